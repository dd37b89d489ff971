"""The controller over a synthetic metric series: pods that are always ready and use none of their
resource requests (so only the backlog moves the count), the backlog given per sync. Used by
loadtest/hpa_replicas.py and the chart's scaling tests; the real loop lives in loop.py."""

from __future__ import annotations

from collections.abc import Iterable

from loadtest.autoscaler.controller import Decision, HorizontalController, Observation, milli
from loadtest.autoscaler.replicas import Pod, PodMetric
from loadtest.autoscaler.spec import HpaSpec

SYNC_SECONDS = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period
_LONG_AGO = -3600.0  # pods started and became ready an hour before the series starts


def observation(
    spec: HpaSpec, requests: dict[str, float], now: float, replicas: int, backlog: float
) -> Observation:
    """``replicas`` steady, idle pods and ``backlog`` on every External metric (the chart's only
    External metric is the ready backlog)."""
    pods = [
        Pod(f"pod-{i}", _LONG_AGO, ready=True, ready_changed_at=_LONG_AGO) for i in range(replicas)
    ]
    pod_metrics: dict[str, dict[str, PodMetric]] = {}
    pod_requests: dict[str, dict[str, int]] = {}
    for metric in spec.metrics:
        if metric.source != "Resource":
            continue
        pod_requests[metric.name] = {p.name: milli(requests[metric.name]) for p in pods}
        pod_metrics[metric.name] = {p.name: PodMetric(0, now, SYNC_SECONDS) for p in pods}
    external = {m.name: [milli(backlog)] for m in spec.metrics if m.source == "External"}
    return Observation(now, replicas, replicas, pods, pod_metrics, pod_requests, external)


def replay(
    spec: HpaSpec,
    requests: dict[str, float],
    backlogs: Iterable[float],
    start_replicas: int,
    sync_seconds: float = SYNC_SECONDS,
) -> list[Decision]:
    """One decision per backlog value, ``sync_seconds`` apart; the pods follow each decision at
    once (no start-up time)."""
    controller = HorizontalController(spec)
    replicas, decisions = start_replicas, []
    for index, backlog in enumerate(backlogs):
        decision = controller.reconcile(
            observation(spec, requests, index * sync_seconds, replicas, backlog)
        )
        decisions.append(decision)
        replicas = decision.desired
    return decisions
