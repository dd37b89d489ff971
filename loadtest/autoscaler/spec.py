"""An HPA's spec as the controller reads it, from the chart's HorizontalPodAutoscaler or from the
HPA that KEDA builds out of the chart's ScaledObject.

API defaulting (k8s.io/kubernetes pkg/apis/autoscaling/v2/defaults.go) is applied here, as the
API server applies it before the controller sees the object: minReplicas 1; a behavior's missing
scaleUp is "100 % or 4 pods per 15 s, no stabilization, Max", a missing scaleDown "100 % per
15 s, Max" with its window left to the controller's --horizontal-pod-autoscaler-downscale-
stabilization (300 s).

KEDA (controllers/keda/hpa.go, pkg/scalers/*) maps a ScaledObject to an HPA this way:
    minReplicaCount (0 or unset -> 1) -> minReplicas; maxReplicaCount (unset -> 100) -> maxReplicas
    advanced.horizontalPodAutoscalerConfig.behavior -> behavior, verbatim
    trigger cpu / memory {metricType, metadata.value} -> Resource metric (Utilization by default)
    trigger i of an external scaler (prometheus ...) -> External metric "s{i}-prometheus" with
        selector scaledobject.keda.sh/name=<name>; metricType AverageValue (default) or Value,
        target = metadata.threshold
    metrics sorted by type (External before Resource); pollingInterval and cooldownPeriod only
    drive KEDA's own 0 <-> 1 activation, which a minReplicaCount >= 1 never uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Kubernetes' defaults for a behavior direction left out (autoscaling/v2 defaulting).
_DEFAULT_UP = {
    "stabilizationWindowSeconds": 0,
    "selectPolicy": "Max",
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ],
}
_DEFAULT_DOWN = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
}
KEDA_MAX_REPLICAS = 100  # KEDA's default maxReplicaCount
_KEDA_RESOURCE_TRIGGERS = {"cpu", "memory"}


class SpecError(ValueError):
    """An HPA or ScaledObject the emulator cannot read (names the field)."""


@dataclass(frozen=True)
class Policy:
    kind: str  # "Pods" or "Percent"
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    """One direction of spec.behavior. ``stabilization_window_seconds`` None: the controller's
    downscale window; ``tolerance`` None: the controller's --horizontal-pod-autoscaler-tolerance."""

    select_policy: str  # Max, Min or Disabled
    policies: tuple[Policy, ...]
    stabilization_window_seconds: int | None = None
    tolerance: float | None = None

    @property
    def longest_period_seconds(self) -> int:
        return max((p.period_seconds for p in self.policies), default=0)


@dataclass(frozen=True)
class Behavior:
    scale_up: ScalingRules
    scale_down: ScalingRules


@dataclass(frozen=True)
class MetricSpec:
    """``source`` Resource or External; ``target_type`` Utilization (``target`` in %),
    AverageValue or Value (``target`` in the metric's unit)."""

    source: str
    name: str
    target_type: str
    target: float


@dataclass(frozen=True)
class HpaSpec:
    name: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[MetricSpec, ...]
    behavior: Behavior | None  # None: the controller's pre-behavior normalization

    @classmethod
    def from_hpa(cls, hpa: dict[str, Any]) -> HpaSpec:
        """From a rendered autoscaling/v2 HorizontalPodAutoscaler."""
        spec = _field(hpa, "spec")
        return cls(
            name=hpa.get("metadata", {}).get("name", ""),
            min_replicas=int(spec.get("minReplicas", 1)),
            max_replicas=int(_field(spec, "maxReplicas")),
            metrics=tuple(_metric(m) for m in spec.get("metrics", [])),
            behavior=_behavior(spec["behavior"]) if spec.get("behavior") else None,
        )

    @classmethod
    def from_scaled_object(cls, scaled: dict[str, Any]) -> HpaSpec:
        """The HPA KEDA creates for a ScaledObject (mapping in the module docstring)."""
        spec = _field(scaled, "spec")
        name = scaled.get("metadata", {}).get("name", "")
        config = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
        triggers = [_keda_metric(i, t) for i, t in enumerate(_field(spec, "triggers"))]
        return cls(
            name=f"keda-hpa-{name}",
            min_replicas=max(1, int(spec.get("minReplicaCount") or 1)),
            max_replicas=int(spec.get("maxReplicaCount", KEDA_MAX_REPLICAS)),
            metrics=tuple(sorted(triggers, key=lambda m: m.source)),
            behavior=_behavior(config["behavior"]) if config.get("behavior") else None,
        )


def _field(obj: dict[str, Any], key: str) -> Any:
    if key not in obj:
        raise SpecError(f"missing field {key!r} in {sorted(obj)}")
    return obj[key]


def _metric(metric: dict[str, Any]) -> MetricSpec:
    source = _field(metric, "type")
    if source == "Resource":
        body = metric["resource"]
        name = body["name"]
    elif source == "External":
        body = metric["external"]
        name = body["metric"]["name"]
    else:
        raise SpecError(f"metric type {source!r} is not emulated (Resource and External are)")
    target = _field(body, "target")
    kind = _field(target, "type")
    key = {"Utilization": "averageUtilization", "AverageValue": "averageValue", "Value": "value"}
    if kind not in key:
        raise SpecError(f"target type {kind!r} of metric {name!r}")
    return MetricSpec(source, name, kind, parse_quantity(_field(target, key[kind])))


def _keda_metric(index: int, trigger: dict[str, Any]) -> MetricSpec:
    kind = _field(trigger, "type")
    metadata = trigger.get("metadata", {})
    if kind in _KEDA_RESOURCE_TRIGGERS:
        target_type = trigger.get("metricType", "Utilization")
        return MetricSpec("Resource", kind, target_type, parse_quantity(metadata["value"]))
    target_type = trigger.get("metricType", "AverageValue")
    if "threshold" not in metadata:
        raise SpecError(f"trigger {index} ({kind}) has no metadata.threshold")
    return MetricSpec(
        "External", f"s{index}-{kind}", target_type, parse_quantity(metadata["threshold"])
    )


def _rules(raw: dict[str, Any]) -> ScalingRules:
    window = raw.get("stabilizationWindowSeconds")
    tolerance = raw.get("tolerance")
    return ScalingRules(
        select_policy=raw.get("selectPolicy", "Max"),
        policies=tuple(
            Policy(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in raw["policies"]
        ),
        stabilization_window_seconds=None if window is None else int(window),
        tolerance=None if tolerance is None else parse_quantity(tolerance),
    )


def _behavior(raw: dict[str, Any]) -> Behavior:
    up = {**_DEFAULT_UP, **raw.get("scaleUp", {})}
    down = {**_DEFAULT_DOWN, **raw.get("scaleDown", {})}
    return Behavior(scale_up=_rules(up), scale_down=_rules(down))


_SUFFIXES = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def parse_quantity(value: Any) -> float:
    """A Kubernetes quantity ("3000", "100m", "128Mi", 70) as a float in base units."""
    text = str(value).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _SUFFIXES[suffix]
    try:
        return float(text)
    except ValueError:
        raise SpecError(f"not a Kubernetes quantity: {value!r}") from None
