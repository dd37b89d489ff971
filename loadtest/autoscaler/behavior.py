"""How the HPA turns a metric proposal into the next replica count: stabilization windows and
scaling policies (spec.behavior), ported from kubernetes pkg/controller/podautoscaler/
horizontal.go: stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors, storeScaleEvent,
and, for an HPA without behavior, stabilizeRecommendation + convertDesiredReplicasWithRules.

Time is seconds on one clock. The original keeps "outdated" entries and reuses their slots; an
entry older than every window or period is never read again, so dropping it is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from loadtest.autoscaler.spec import Behavior, ScalingRules

# --horizontal-pod-autoscaler-downscale-stabilization: the window of a scaleDown that sets none
# and of an HPA without behavior.
DOWNSCALE_STABILIZATION_SECONDS = 300.0
# An HPA without behavior may at most double, or reach 4, per sync (horizontal.go).
_LEGACY_UP_FACTOR, _LEGACY_UP_MINIMUM = 2.0, 4.0


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    at: float


@dataclass(frozen=True)
class ScaleEvent:
    change: int  # pods added (scale-up events) or removed (scale-down events), > 0
    at: float


@dataclass
class History:
    """The controller's memory of one HPA: unstabilized recommendations and scale events."""

    recommendations: list[Recommendation] = field(default_factory=list)
    up_events: list[ScaleEvent] = field(default_factory=list)
    down_events: list[ScaleEvent] = field(default_factory=list)

    def record_initial(self, current: int, now: float) -> None:
        """recordInitialRecommendation: the first sync remembers the current count."""
        if not self.recommendations:
            self.recommendations.append(Recommendation(current, now))

    def store_event(self, behavior: Behavior | None, before: int, after: int, now: float) -> None:
        """storeScaleEvent (nothing is stored for an HPA without behavior)."""
        if behavior is None or before == after:
            return
        rules, events = (
            (behavior.scale_up, self.up_events)
            if after > before
            else (behavior.scale_down, self.down_events)
        )
        cutoff = now - rules.longest_period_seconds
        events[:] = [e for e in events if e.at >= cutoff]
        events.append(ScaleEvent(abs(after - before), now))


def change_in_period(period_seconds: int, events: list[ScaleEvent], now: float) -> int:
    """getReplicasChangePerPeriod: events strictly after now - period."""
    cutoff = now - period_seconds
    return sum(e.change for e in events if e.at > cutoff)


def period_start(current: int, history: History, period_seconds: int, now: float) -> int:
    """The count a policy's period started from: current - added + removed within it."""
    added = change_in_period(period_seconds, history.up_events, now)
    return current - added + change_in_period(period_seconds, history.down_events, now)


def scale_up_limit(current: int, history: History, rules: ScalingRules, now: float) -> int:
    """calculateScaleUpLimitWithScalingRules: the most pods the policies allow now."""
    if rules.select_policy == "Disabled":
        return current
    proposals = []
    for policy in rules.policies:
        start = period_start(current, history, policy.period_seconds, now)
        if policy.kind == "Pods":
            proposals.append(start + policy.value)
        else:
            proposals.append(math.ceil(start * (1 + policy.value / 100)))
    return min(proposals) if rules.select_policy == "Min" else max(proposals)


def scale_down_limit(current: int, history: History, rules: ScalingRules, now: float) -> int:
    """calculateScaleDownLimitWithBehaviors: the fewest pods the policies allow now (a Percent
    policy truncates: 72 pods at 10 % may go to int(64.8) = 64)."""
    if rules.select_policy == "Disabled":
        return current
    proposals = []
    for policy in rules.policies:
        start = period_start(current, history, policy.period_seconds, now)
        if policy.kind == "Pods":
            proposals.append(start - policy.value)
        else:
            proposals.append(int(start * (1 - policy.value / 100)))
    return max(proposals) if rules.select_policy == "Min" else min(proposals)


def stabilize(history: History, behavior: Behavior, current: int, desired: int, now: float) -> int:
    """stabilizeRecommendationWithBehaviors: the current count moved no further than the lowest
    recommendation of the scale-up window and the highest of the scale-down window."""
    up_window = behavior.scale_up.stabilization_window_seconds or 0
    down_window = behavior.scale_down.stabilization_window_seconds
    if down_window is None:
        down_window = int(DOWNSCALE_STABILIZATION_SECONDS)
    up_cutoff, down_cutoff = now - up_window, now - down_window
    up, down = desired, desired
    for rec in history.recommendations:
        if rec.at > up_cutoff:
            up = min(up, rec.replicas)
        if rec.at > down_cutoff:
            down = max(down, rec.replicas)
    oldest_needed = min(up_cutoff, down_cutoff)
    history.recommendations[:] = [r for r in history.recommendations if r.at >= oldest_needed]
    history.recommendations.append(Recommendation(desired, now))
    return min(max(current, up), down)


@dataclass(frozen=True)
class Bounds:
    min_replicas: int
    max_replicas: int


def limit_rate(
    history: History, behavior: Behavior, bounds: Bounds, current: int, desired: int, now: float
) -> int:
    """convertDesiredReplicasWithBehaviorRate: within min/max and the scaling policies."""
    if desired > current:
        ceiling = max(scale_up_limit(current, history, behavior.scale_up, now), current)
        return min(desired, min(bounds.max_replicas, ceiling))
    if desired < current:
        floor = min(scale_down_limit(current, history, behavior.scale_down, now), current)
        return max(desired, max(bounds.min_replicas, floor))
    return desired


def normalize_with_behaviors(
    history: History, behavior: Behavior, bounds: Bounds, current: int, desired: int, now: float
) -> int:
    """normalizeDesiredReplicasWithBehaviors: stabilize, then limit the rate."""
    stabilized = stabilize(history, behavior, current, desired, now)
    return limit_rate(history, behavior, bounds, current, stabilized, now)


def normalize_legacy(
    history: History, bounds: Bounds, current: int, desired: int, now: float
) -> int:
    """normalizeDesiredReplicas (no behavior): the highest recommendation of the downscale
    window, then at most max(2 x current, 4) and within min/max."""
    cutoff = now - DOWNSCALE_STABILIZATION_SECONDS
    stabilized = max([desired, *(r.replicas for r in history.recommendations if r.at >= cutoff)])
    history.recommendations[:] = [r for r in history.recommendations if r.at >= cutoff]
    history.recommendations.append(Recommendation(desired, now))
    ceiling = int(max(_LEGACY_UP_FACTOR * current, _LEGACY_UP_MINIMUM))
    return max(bounds.min_replicas, min(stabilized, min(bounds.max_replicas, ceiling)))
