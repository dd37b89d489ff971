"""One HPA's reconcile step, ported from kubernetes pkg/controller/podautoscaler/horizontal.go
(reconcileAutoscaler, computeReplicasForMetrics): a pure function of what it observes and of its
history, so the tests drive it with the documentation's numbers and the loop with live ones.

- Below minReplicas / above maxReplicas: straight to the bound, no policy applies.
- Otherwise every metric proposes a count; the highest wins. A metric that fails is skipped,
  but if any failed and the rest would scale down, nothing happens (and nothing if all failed).
- The proposal goes through the behavior (stabilization, then policies) and, when it changes the
  count, is stored as a scale event that the policies' periods count against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from loadtest.autoscaler import replicas as calc
from loadtest.autoscaler.behavior import (
    Bounds,
    History,
    normalize_legacy,
    normalize_with_behaviors,
)
from loadtest.autoscaler.replicas import MetricError, Pod, PodMetric, Readiness, Tolerances
from loadtest.autoscaler.spec import HpaSpec, MetricSpec


@dataclass(frozen=True)
class Observation:
    """What the controller reads at one sync. Values are milli-units (cpu: millicores, memory:
    milli-bytes as Kubernetes counts them, external: the metric x 1000)."""

    now: float
    spec_replicas: int  # the Deployment's spec.replicas: what the HPA set last
    status_replicas: int  # its status.replicas: pods that exist and are not terminating
    pods: list[Pod] = field(default_factory=list)
    pod_metrics: dict[str, dict[str, PodMetric]] = field(default_factory=dict)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    external: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Proposal:
    metric: str
    replicas: int | None  # None: the metric failed (error says why)
    usage: int | None = None  # milli-units, or % for a Utilization target
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    at: float
    current: int
    desired: int  # what the HPA sets spec.replicas to
    metric_desired: int | None  # the highest proposal before the behavior
    proposals: tuple[Proposal, ...]
    reason: str


def milli(value: float) -> int:
    """Quantity.MilliValue(): rounds up."""
    return math.ceil(round(value * 1000, 6))


class HorizontalController:
    """The controller's state for one HPA plus its flags (tolerance, start-up periods)."""

    def __init__(
        self,
        spec: HpaSpec,
        tolerance: float = calc.TOLERANCE,
        cpu_initialization_seconds: float = calc.CPU_INITIALIZATION_PERIOD_SECONDS,
        initial_readiness_delay_seconds: float = calc.INITIAL_READINESS_DELAY_SECONDS,
    ) -> None:
        self.spec = spec
        self.history = History()
        self._tolerance = tolerance
        self._periods = (cpu_initialization_seconds, initial_readiness_delay_seconds)
        down = spec.behavior.scale_down.tolerance if spec.behavior else None
        up = spec.behavior.scale_up.tolerance if spec.behavior else None
        self.tolerances = Tolerances(_or(down, tolerance), _or(up, tolerance))

    def reconcile(self, seen: Observation) -> Decision:
        spec, current = self.spec, seen.spec_replicas
        self.history.record_initial(current, seen.now)
        if current == 0 and spec.min_replicas != 0:
            return Decision(seen.now, current, 0, None, (), "scaling disabled (0 replicas)")
        if current > spec.max_replicas or current < spec.min_replicas:
            bound = min(max(current, spec.min_replicas), spec.max_replicas)
            return self._rescale(seen, bound, None, (), "current count outside min/max")
        proposals = tuple(self._propose(metric, seen) for metric in spec.metrics)
        valid = [p.replicas for p in proposals if p.replicas is not None]
        failed = len(valid) < len(proposals)
        if not valid or (failed and max(valid) < current):
            return Decision(seen.now, current, current, None, proposals, "invalid metrics")
        wanted = max(valid)
        bounds = Bounds(spec.min_replicas, spec.max_replicas)
        if spec.behavior is None:
            desired = normalize_legacy(self.history, bounds, current, wanted, seen.now)
        else:
            args = (self.history, spec.behavior, bounds, current, wanted, seen.now)
            desired = normalize_with_behaviors(*args)
        reason = "above target" if wanted > current else "below target" if wanted < current else ""
        return self._rescale(seen, desired, wanted, proposals, reason or "at target")

    def _rescale(
        self,
        seen: Observation,
        desired: int,
        wanted: int | None,
        proposals: tuple[Proposal, ...],
        reason: str,
    ) -> Decision:
        if desired != seen.spec_replicas:
            self.history.store_event(self.spec.behavior, seen.spec_replicas, desired, seen.now)
        return Decision(seen.now, seen.spec_replicas, desired, wanted, proposals, reason)

    def _propose(self, metric: MetricSpec, seen: Observation) -> Proposal:
        try:
            replicas, usage = self._compute(metric, seen)
        except MetricError as exc:
            return Proposal(metric.name, None, error=str(exc))
        return Proposal(metric.name, replicas, usage)

    def _compute(self, metric: MetricSpec, seen: Observation) -> tuple[int, int]:
        tol = self.tolerances
        if metric.source == "External":
            values = seen.external.get(metric.name)
            if values is None:
                raise MetricError(f"no value for external metric {metric.name}")
            if metric.target_type == "AverageValue":
                return calc.external_per_pod_replicas(
                    seen.status_replicas, milli(metric.target), values, tol
                )
            ready = sum(1 for p in seen.pods if p.phase == "Running" and p.ready)
            return calc.external_value_replicas(
                seen.spec_replicas, milli(metric.target), values, tol, ready
            )
        samples = dict(seen.pod_metrics.get(metric.name, {}))
        readiness = Readiness(seen.now, *self._periods)
        args = (seen.spec_replicas,)
        if metric.target_type == "Utilization":
            requests = seen.requests.get(metric.name, {})
            missing = [p.name for p in seen.pods if p.name not in requests]
            if missing:
                raise MetricError(f"missing request for {metric.name} in pod {missing[0]}")
            return calc.resource_utilization_replicas(
                *args, int(metric.target), samples, requests, seen.pods, tol, readiness, metric.name
            )
        return calc.plain_metric_replicas(
            *args, milli(metric.target), samples, seen.pods, tol, readiness, metric.name
        )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value
