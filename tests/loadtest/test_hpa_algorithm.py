"""The emulated HPA against the worked examples of the Kubernetes documentation ("Horizontal Pod
Autoscaling", concepts/workloads/autoscaling; and the HorizontalPodAutoscaler walkthrough). Each
test names its example; values are milli-units as the controller reads them."""

from __future__ import annotations

from typing import Any

from loadtest.autoscaler.behavior import History, scale_down_limit
from loadtest.autoscaler.controller import HorizontalController, Observation, milli
from loadtest.autoscaler.pods import WorkerPod, newest_first
from loadtest.autoscaler.replicas import (
    Pod,
    PodMetric,
    Readiness,
    Tolerances,
    external_per_pod_replicas,
    plain_metric_replicas,
    resource_utilization_replicas,
)
from loadtest.autoscaler.spec import HpaSpec

LONG_AGO = -3600.0
NOW = 0.0
TOL = Tolerances()
READY = Readiness(NOW)


def pods(*names: str) -> list[Pod]:
    return [Pod(n, LONG_AGO, ready=True, ready_changed_at=LONG_AGO) for n in names]


def samples(**values: int) -> dict[str, PodMetric]:
    return {name: PodMetric(value, NOW) for name, value in values.items()}


def external(name: str, average: str) -> dict[str, Any]:
    target = {"type": "AverageValue", "averageValue": average}
    return {"type": "External", "external": {"metric": {"name": name}, "target": target}}


def resource(name: str, target: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def hpa(*metrics: dict[str, Any], hi: int = 100, lo: int = 1, **behavior: Any) -> HpaSpec:
    spec: dict[str, Any] = {"minReplicas": lo, "maxReplicas": hi, "metrics": list(metrics)}
    if behavior:
        spec["behavior"] = behavior
    return HpaSpec.from_hpa({"metadata": {"name": "example"}, "spec": spec})


def pods_metric_hpa(behavior: dict[str, Any] | None, lo: int = 1, hi: int = 100) -> HpaSpec:
    """An HPA on one metric averaged over the pods with a 100m target (the docs' example unit);
    ``behavior`` None: an HPA without behavior."""
    return hpa(external("load", "100m"), hi=hi, lo=lo, **(behavior if behavior is not None else {}))


def seen(now: float, replicas: int, per_pod: float) -> Observation:
    """``replicas`` pods whose External total is ``per_pod`` (in units) each."""
    return Observation(
        now,
        replicas,
        replicas,
        pods(*(f"p{i}" for i in range(replicas))),
        external={"load": [milli(per_pod * replicas)]},
    )


# -- Algorithm details -------------------------------------------------------------------------


def test_algorithm_details_200m_against_100m_doubles_and_50m_halves() -> None:
    two = pods("a", "b")
    assert plain_metric_replicas(2, 100, samples(a=200, b=200), two, TOL, READY) == (4, 200)
    assert plain_metric_replicas(2, 100, samples(a=50, b=50), two, TOL, READY) == (1, 50)


def test_algorithm_details_skips_a_ratio_within_the_10_percent_tolerance() -> None:
    two = pods("a", "b")
    assert plain_metric_replicas(2, 100, samples(a=110, b=110), two, TOL, READY)[0] == 2
    assert plain_metric_replicas(2, 100, samples(a=111, b=111), two, TOL, READY)[0] == 3


def test_algorithm_details_missing_metrics_count_as_0_on_scale_up_and_may_cancel_it() -> None:
    """'...assuming those pods were consuming 100% of the desired value in case of a scale down,
    and 0% in case of a scale up... If the new ratio reverses the scale direction, or is within
    the tolerance, the controller doesn't take any scaling action.'"""
    three = pods("a", "b", "c")
    # a, b at 150m: ratio 1.5 up; c missing counts 0 -> average 100m, ratio 1.0 -> stay at 3.
    assert plain_metric_replicas(3, 100, samples(a=150, b=150), three, TOL, READY)[0] == 3
    # a, b at 300m: with c at 0 the average is 200m -> ceil(2.0 x 3) = 6.
    assert plain_metric_replicas(3, 100, samples(a=300, b=300), three, TOL, READY)[0] == 6
    # Scale-down: c counts as the target (100m): a, b at 20m -> average 46m -> ceil(0.46 x 3).
    assert plain_metric_replicas(3, 100, samples(a=20, b=20), three, TOL, READY)[0] == 2


def test_algorithm_details_not_yet_ready_pods_count_as_0_on_scale_up() -> None:
    warming = [*pods("a"), Pod("b", NOW - 5, ready=False, ready_changed_at=NOW - 5)]
    cpu = samples(a=300, b=900)
    requests = {"a": 100, "b": 100}
    # b is not ready: set aside, then counted at 0 % for the scale-up: (300 + 0) / 200 = 150 %
    # against 50 % -> ratio 3.0 over 2 pods -> 6 (not the 24 that b's 900m would ask for).
    args = (2, 50, cpu, requests, warming, TOL, READY, "cpu")
    assert resource_utilization_replicas(*args)[0] == 6


def test_cpu_sample_taken_before_a_window_after_readiness_is_ignored() -> None:
    """The CPU initialization period (5 min): a fresh pod's sample counts only once a whole
    metric window has passed since it became ready."""
    fresh = Pod("b", NOW - 20, ready=True, ready_changed_at=NOW - 10)
    cpu = {"a": PodMetric(300, NOW, 15), "b": PodMetric(500, NOW, 15)}
    args = (2, 50, cpu, {"a": 100, "b": 100}, [*pods("a"), fresh], TOL, READY, "cpu")
    # b's sample (t=0) is not a window (15 s) past its readiness (t=-10): b counts 0 on the
    # scale-up, (300 + 0) / 200 = 150 % -> ceil(3.0 x 2) = 6 rather than ceil(8.0 x 2) = 16.
    assert resource_utilization_replicas(*args)[0] == 6
    ripe = Pod("b", NOW - 40, ready=True, ready_changed_at=NOW - 30)
    args = (2, 50, cpu, {"a": 100, "b": 100}, [*pods("a"), ripe], TOL, READY, "cpu")
    assert resource_utilization_replicas(*args)[0] == 16


def test_walkthrough_php_apache_305_percent_of_request_against_50_goes_to_7() -> None:
    one = pods("php-apache")
    args = (1, 50, samples(**{"php-apache": 610}), {"php-apache": 200}, one, TOL, READY, "cpu")
    assert resource_utilization_replicas(*args) == (7, 305)


def test_multiple_metrics_the_largest_proposal_wins() -> None:
    spec = hpa(external("small", "10"), external("big", "10"), hi=50)
    seen_both = Observation(
        NOW, 2, 2, pods("a", "b"), external={"small": [milli(30)], "big": [milli(70)]}
    )
    decision = HorizontalController(spec).reconcile(seen_both)
    assert [p.replicas for p in decision.proposals] == [3, 7]
    # No behavior: the pre-behavior limit allows at most max(2 x current, 4) per sync.
    assert (decision.metric_desired, decision.desired) == (7, 4)


def test_external_average_value_is_total_over_target_per_pod() -> None:
    """The chart's backlog metric: 100,000 ready on 2 pods at 3,000 per pod."""
    assert external_per_pod_replicas(2, milli(3000), [milli(100_000)], TOL) == (34, milli(50_000))
    assert external_per_pod_replicas(2, milli(3000), [milli(6_300)], TOL)[0] == 2  # ratio 1.05


def test_configurable_tolerance_5_percent_up_scales_at_106mi_not_104mi() -> None:
    """Configurable tolerance: a 100Mi memory target with a 5 % scale-up tolerance acts above
    105Mi (the default 10 % would wait for 110Mi)."""
    spec = hpa(
        resource("memory", {"type": "AverageValue", "averageValue": "100Mi"}),
        hi=10,
        scaleUp={"tolerance": "0.05"},
    )
    for per_pod_mi, expected in ((106, 3), (104, 2)):
        memory = {f"p{i}": PodMetric(milli(per_pod_mi * 2**20), NOW) for i in range(2)}
        seen_memory = Observation(NOW, 2, 2, pods("p0", "p1"), pod_metrics={"memory": memory})
        assert HorizontalController(spec).reconcile(seen_memory).desired == expected


def drive(spec: HpaSpec, start: int, wants: list[tuple[float, int]]) -> list[int]:
    """Syncs at the given times with a metric that asks for ``want`` pods; replicas after each."""
    controller, replicas, out = HorizontalController(spec), start, []
    for at, want in wants:
        replicas = controller.reconcile(seen(at, replicas, want * 0.1 / replicas)).desired
        out.append(replicas)
    return out


def test_default_scale_up_100_percent_or_4_pods_every_15_s() -> None:
    """Default behavior: "4 Pods or a 100% of the currently running replicas may at most be
    added every 15 seconds"."""
    spec = pods_metric_hpa({"scaleUp": {}})
    assert drive(spec, 1, [(15.0 * i, 100) for i in range(6)]) == [5, 10, 20, 40, 80, 100]


def test_scaling_policies_example_80_pods_down_by_the_larger_change() -> None:
    """Scaling policies: Pods 4 and Percent 10 per 60 s, selectPolicy Max: from 80, 8 pods
    first, then 10 % of 72 = 7.2 'rounded up to 8'; below 40 pods the Pods policy (4) wins. The
    first step waits for the default 300 s scale-down stabilization window."""
    spec = pods_metric_hpa(
        {
            "scaleDown": {
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 60},
                    {"type": "Percent", "value": 10, "periodSeconds": 60},
                ]
            }
        }
    )
    times = [0.0, 60.0, *(301.0 + 60 * i for i in range(12))]
    path = drive(spec, 80, [(t, 10) for t in times])
    assert path[:2] == [80, 80]  # stabilized
    assert path[2:9] == [72, 64, 57, 51, 45, 40, 36]
    assert path[9:] == [32, 28, 24, 20, 16]


def test_limit_scale_down_rate_10_percent_per_minute_or_at_most_5_pods_with_min() -> None:
    """'To ensure that no more than 5 Pods are removed per minute, you can add a second
    scale-down policy with a fixed size of 5, and set selectPolicy to minimum.'"""
    rules = pods_metric_hpa(
        {
            "scaleDown": {
                "selectPolicy": "Min",
                "policies": [
                    {"type": "Percent", "value": 10, "periodSeconds": 60},
                    {"type": "Pods", "value": 5, "periodSeconds": 60},
                ],
            }
        }
    ).behavior
    assert rules is not None
    history = History()
    assert scale_down_limit(80, history, rules.scale_down, NOW) == 75  # 5 < 8
    assert scale_down_limit(40, history, rules.scale_down, NOW) == 36  # 4 < 5


def test_disable_scale_down() -> None:
    spec = pods_metric_hpa({"scaleDown": {"selectPolicy": "Disabled"}})
    assert drive(spec, 10, [(60.0 * i, 1) for i in range(10)]) == [10] * 10


def test_change_downscale_stabilization_window_to_60_s() -> None:
    """Change downscale stabilization window (60 s): the last minute's highest recommendation."""
    spec = pods_metric_hpa({"scaleDown": {"stabilizationWindowSeconds": 60}})
    wants = [(0.0, 10), (15.0, 4), (30.0, 4), (45.0, 4), (60.0, 4)]
    assert drive(spec, 10, wants) == [10, 10, 10, 10, 4]


def test_scale_up_in_the_period_counts_against_scale_down_and_back() -> None:
    """periodStartReplicas = current - added + removed in the period."""
    spec = pods_metric_hpa(
        {
            "scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
            "scaleDown": {"stabilizationWindowSeconds": 0},
        }
    )
    # +2 at t=0; at t=30 nothing more may be added (period start 2, +2 = 4 reached).
    assert drive(spec, 2, [(0.0, 10), (30.0, 10), (61.0, 10)]) == [4, 4, 6]


def test_min_and_max_bounds_apply_without_policies() -> None:
    spec = pods_metric_hpa({}, lo=3, hi=5)
    assert drive(spec, 1, [(0.0, 1)]) == [3]
    assert drive(spec, 9, [(0.0, 9)]) == [5]


def test_a_failing_metric_blocks_scale_down_but_not_scale_up() -> None:
    spec = hpa(
        external("load", "1"),
        resource("cpu", {"type": "Utilization", "averageUtilization": 50}),
        hi=10,
    )
    controller = HorizontalController(spec)
    down = Observation(NOW, 4, 4, pods("a", "b", "c", "d"), external={"load": [milli(1)]})
    decision = controller.reconcile(down)
    assert decision.desired == 4 and decision.reason == "invalid metrics"
    up = Observation(15.0, 4, 4, pods("a", "b", "c", "d"), external={"load": [milli(6)]})
    assert controller.reconcile(up).desired == 6


def test_scale_down_picks_the_newest_pods_and_a_scale_up_none() -> None:
    started = [WorkerPod(f"w{i}", None, 0, float(i)) for i in range(3)]  # type: ignore[arg-type]
    assert [p.name for p in newest_first(started, 2)] == ["w2", "w1"]
    assert newest_first(started, 0) == newest_first(started, -1) == []
