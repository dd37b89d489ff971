"""The HPA's replica calculator, ported from kubernetes pkg/controller/podautoscaler/
replica_calculator.go (and metrics/utilization.go): one proposal per metric.

Values are integers in milli-units, as the controller reads them (Quantity.MilliValue()), so the
integer divisions of the original (average usage, utilization percent) round the same way.
Times are seconds on one clock (the emulator's time.time()).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# kube-controller-manager defaults: --horizontal-pod-autoscaler-tolerance, -cpu-initialization-
# period and -initial-readiness-delay.
TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD_SECONDS = 300.0
INITIAL_READINESS_DELAY_SECONDS = 30.0


class MetricError(RuntimeError):
    """No usable sample for a metric: the controller skips that metric this sync."""


@dataclass(frozen=True)
class Pod:
    """What the controller reads of a pod. ``ready`` None: no Ready condition yet;
    ``ready_changed_at`` is the condition's lastTransitionTime."""

    name: str
    started_at: float | None
    phase: str = "Running"  # Pending, Running or Failed
    ready: bool | None = True
    ready_changed_at: float | None = None
    deleting: bool = False


@dataclass(frozen=True)
class PodMetric:
    """One pod's sample (milli-units), taken at ``timestamp`` over ``window_seconds``."""

    value: int
    timestamp: float = 0.0
    window_seconds: float = 15.0


@dataclass(frozen=True)
class Tolerances:
    """No scaling while down-tolerance <= ratio - 1 <= up-tolerance (the ratio is near 1)."""

    scale_down: float = TOLERANCE
    scale_up: float = TOLERANCE

    def within(self, ratio: float) -> bool:
        return 1.0 - self.scale_down <= ratio <= 1.0 + self.scale_up


@dataclass(frozen=True)
class PodGroups:
    ready: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True)
class Readiness:
    """The controller's two start-up periods and the sync time."""

    now: float
    cpu_initialization_seconds: float = CPU_INITIALIZATION_PERIOD_SECONDS
    initial_readiness_delay_seconds: float = INITIAL_READINESS_DELAY_SECONDS


def group_pods(
    pods: list[Pod], metrics: dict[str, PodMetric], resource: str, readiness: Readiness
) -> PodGroups:
    """groupPods: deleted or failed pods are ignored, pending ones unready, pods without a sample
    missing; for CPU, a pod that is not ready (or whose sample predates one window after it became
    ready, during its initialization period) is unready too."""
    unready, missing, ignored = set(), set(), set()
    for pod in pods:
        if pod.deleting or pod.phase == "Failed":
            ignored.add(pod.name)
        elif pod.phase == "Pending":
            unready.add(pod.name)
        elif pod.name not in metrics:
            missing.add(pod.name)
        elif resource == "cpu" and _cpu_unready(pod, metrics[pod.name], readiness):
            unready.add(pod.name)
    ready = len(pods) - len(unready) - len(missing) - len(ignored)
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_unready(pod: Pod, metric: PodMetric, readiness: Readiness) -> bool:
    if pod.ready is None or pod.started_at is None or pod.ready_changed_at is None:
        return True
    if pod.started_at + readiness.cpu_initialization_seconds > readiness.now:
        return not pod.ready or metric.timestamp < pod.ready_changed_at + metric.window_seconds
    never_ready = pod.started_at + readiness.initial_readiness_delay_seconds > pod.ready_changed_at
    return not pod.ready and never_ready


def usage_ratio(metrics: dict[str, PodMetric], target: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (average / target, average), the average an integer division."""
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target, average


def utilization_ratio(
    metrics: dict[str, PodMetric], requests: dict[str, int], target_percent: int
) -> tuple[float, int]:
    """GetResourceUtilizationRatio: (utilization / target, utilization in whole percent)."""
    used = sum(m.value for name, m in metrics.items() if name in requests)
    requested = sum(requests[name] for name in metrics if name in requests)
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target_percent, utilization


def plain_metric_replicas(
    current: int,
    target: int,
    metrics: dict[str, PodMetric],
    pods: list[Pod],
    tolerances: Tolerances,
    readiness: Readiness,
    resource: str = "",
) -> tuple[int, int]:
    """calcPlainMetricReplicas (AverageValue of a per-pod metric): (replicas, average usage)."""
    return _per_pod_replicas(
        current,
        metrics,
        pods,
        tolerances,
        readiness,
        resource,
        lambda m: usage_ratio(m, target),
        fill_missing_down=target,
    )


def resource_utilization_replicas(
    current: int,
    target_percent: int,
    metrics: dict[str, PodMetric],
    requests: dict[str, int],
    pods: list[Pod],
    tolerances: Tolerances,
    readiness: Readiness,
    resource: str,
) -> tuple[int, int]:
    """GetResourceReplicas (a Utilization target): (replicas, utilization %). On a scale-down a
    pod without a sample counts as using max(100 %, target) of its request."""

    def ratio(sample: dict[str, PodMetric]) -> tuple[float, int]:
        return utilization_ratio(sample, requests, target_percent)

    fill = {name: request * max(100, target_percent) // 100 for name, request in requests.items()}
    return _per_pod_replicas(
        current, metrics, pods, tolerances, readiness, resource, ratio, fill_missing_down=fill
    )


def _per_pod_replicas(
    current: int,
    metrics: dict[str, PodMetric],
    pods: list[Pod],
    tolerances: Tolerances,
    readiness: Readiness,
    resource: str,
    ratio_of: Callable[[dict[str, PodMetric]], tuple[float, int]],
    fill_missing_down: int | dict[str, int],
) -> tuple[int, int]:
    """The part GetResourceReplicas and calcPlainMetricReplicas share: rebalance unready and
    missing pods conservatively, never against the direction of the first estimate."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, readiness)
    sample = {n: m for n, m in metrics.items() if n not in groups.ignored | groups.unready}
    if not sample:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = ratio_of(sample)
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return current, usage
        return math.ceil(ratio * groups.ready), usage
    for name in groups.missing:
        if ratio < 1.0:
            fill = (
                fill_missing_down if isinstance(fill_missing_down, int) else fill_missing_down[name]
            )
            sample[name] = PodMetric(fill)
        elif ratio > 1.0:
            sample[name] = PodMetric(0)
    if up_with_unready:
        sample.update({name: PodMetric(0) for name in groups.unready})
    new_ratio, _ = ratio_of(sample)
    if tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current, usage
    proposal = math.ceil(new_ratio * len(sample))
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current, usage
    return proposal, usage


def external_per_pod_replicas(
    status_replicas: int, target_per_pod: int, values: list[int], tolerances: Tolerances
) -> tuple[int, int]:
    """GetExternalPerPodMetricReplicas (an AverageValue External target): ceil(total / target)
    unless total / (target x pods) is within tolerance; (replicas, usage per pod)."""
    if status_replicas <= 0:
        raise MetricError("no replicas to average an AverageValue metric over")
    usage = sum(values)
    replicas = status_replicas
    if not tolerances.within(usage / (target_per_pod * status_replicas)):
        replicas = math.ceil(usage / target_per_pod)
    return replicas, math.ceil(usage / status_replicas)


def external_value_replicas(
    current: int, target: int, values: list[int], tolerances: Tolerances, ready_pods: int
) -> tuple[int, int]:
    """GetExternalMetricReplicas (a Value target): ratio x ready pods; (replicas, total)."""
    usage = sum(values)
    ratio = usage / target
    if current == 0:
        return math.ceil(ratio), usage
    if tolerances.within(ratio):
        return current, usage
    return math.ceil(ratio * ready_pods), usage
