"""The chart's worker autoscaler through the emulated HPA (loadtest/autoscaler): how fast a burst
scales the workers up, how gently they come down, and that KEDA's HPA behaves the same."""

from __future__ import annotations

import itertools
import random

import pytest

from loadtest.autoscaler.chart import worker_autoscaler
from loadtest.autoscaler.synthetic import replay
from loadtest.hpa_replicas import main, steps

OLD_SCALE_UP = {"percent": 50, "pods": 2, "periodSeconds": 60}  # the chart's first policies


def test_reads_the_chart_hpa_and_keda_s_hpa_alike() -> None:
    hpa = worker_autoscaler().spec
    keda = worker_autoscaler({"worker": {"autoscaling": {"mode": "keda"}}}).spec
    assert (hpa.min_replicas, hpa.max_replicas) == (keda.min_replicas, keda.max_replicas) == (2, 20)
    assert hpa.behavior == keda.behavior
    targets = {(m.source, m.target_type, m.target) for m in hpa.metrics}
    assert targets == {(m.source, m.target_type, m.target) for m in keda.metrics}
    assert ("External", "AverageValue", 3000.0) in targets
    assert [m.name for m in keda.metrics] == ["s2-prometheus", "cpu", "memory"]


@pytest.mark.parametrize(
    ("backlog", "path"),
    [
        (1_000, [(0, 2)]),  # ceil(1,000 / 3,000) = 1: below the floor
        (10_000, [(0, 2), (0, 4)]),  # ceil(10,000 / 3,000)
        (100_000, [(0, 2), (0, 6), (15, 12), (30, 20)]),  # 34 asked, +100 % or +4 per sync
    ],
)
def test_the_reference_backlogs(backlog: int, path: list[tuple[int, int]]) -> None:
    assert steps({}, backlog, current=2) == path


def test_a_100k_burst_reaches_20_pods_within_60_s_the_old_policies_took_4_minutes() -> None:
    assert steps({}, 100_000, current=2)[-1] <= (60, 20)
    old = {"worker": {"autoscaling": {"behavior": {"scaleUp": OLD_SCALE_UP}}}}
    assert steps(old, 100_000, current=2) == [
        (0, 2),
        (0, 4),
        (60, 6),
        (120, 9),
        (180, 14),
        (240, 20),
    ]


def test_a_draining_burst_scales_up_at_once_and_down_gently() -> None:
    """100,000 drained at 1,000 msg/s once 20 pods run, then 10 minutes of an empty queue: up to
    20 within 60 s, no scale-down for 300 s after the last high recommendation, then at most the
    larger of 10 % or 1 pod per minute."""
    scaler = worker_autoscaler()
    backlog, series = 100_000.0, []
    for _ in range(60):  # 15 minutes of 15 s syncs
        series.append(backlog)
        backlog = max(0.0, backlog - 15 * 50 * 20)
    decisions = replay(scaler.spec, scaler.requests, series, 2)
    replicas = [d.desired for d in decisions]
    assert replicas[:3] == [6, 12, 20]
    last_high = max(i for i, n in enumerate(replicas) if n == 20)
    # The last sync whose metrics asked for 20 (55,000 on 20 pods is within the tolerance).
    last_asked = max(i for i, d in enumerate(decisions) if (d.metric_desired or 0) >= 20)
    assert (last_high + 1 - last_asked) * 15 == 300  # held exactly through the window
    drops = [a - b for a, b in itertools.pairwise(replicas) if b < a]
    assert drops and all(d <= 2 for d in drops)  # 10 % of 20 at most, then 1 pod
    assert replicas[-1] > scaler.spec.min_replicas  # still coming down gently at 15 minutes


def test_no_flapping_on_a_noisy_flat_backlog() -> None:
    """A backlog of 30,000 +/- 20 % (asks for 8-12 pods) for 30 minutes: the count only rises
    on a new high and never falls back within the 300 s window, so it changes rarely."""
    scaler = worker_autoscaler()
    noise = random.Random(14)
    series = [30_000 * noise.uniform(0.8, 1.2) for _ in range(120)]
    replicas = [d.desired for d in replay(scaler.spec, scaler.requests, series, 10)]
    changes = [i for i in range(1, len(replicas)) if replicas[i] != replicas[i - 1]]
    assert len(changes) <= 3, replicas
    assert all(replicas[i] > replicas[i - 1] for i in changes)  # never down: the window holds
    assert max(replicas) <= 12


def test_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--backlog", "100000"])
    assert "100,000  2 (0 s) -> 6 (0 s) -> 12 (15 s) -> 20 (30 s)" in capsys.readouterr().out
