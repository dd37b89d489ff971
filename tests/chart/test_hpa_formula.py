"""loadtest/hpa_replicas.py: the HPA algorithm on the chart's own numbers."""

from __future__ import annotations

from loadtest.hpa_replicas import WorkerHpa, main


def test_reads_the_chart() -> None:
    hpa = WorkerHpa.from_chart()
    assert (hpa.min_replicas, hpa.max_replicas, hpa.target_per_pod) == (2, 20, 3000.0)
    assert (hpa.up_percent, hpa.up_pods, hpa.period_seconds) == (50, 2, 60)


def test_desired_replicas_at_the_issue_s_backlogs() -> None:
    hpa = WorkerHpa.from_chart()
    assert hpa.desired(1_000, current=2) == (1, 2)  # below the floor
    assert hpa.desired(10_000, current=2) == (4, 4)  # ceil(10,000 / 3,000)
    assert hpa.desired(100_000, current=2) == (34, 20)  # the ceiling
    assert hpa.desired(6_300, current=2) == (2, 2)  # ratio 1.05: inside the 10 % tolerance


def test_scale_up_steps_take_the_larger_policy() -> None:
    hpa = WorkerHpa.from_chart()
    assert hpa.path(100_000, current=2) == [2, 4, 6, 9, 14, 20]
    assert hpa.step_limit(10) == 15  # +50 % beats +2 pods


def test_follows_the_values() -> None:
    hpa = WorkerHpa.from_chart({"worker": {"autoscaling": {"queue": {"backlogSeconds": 10}}}})
    assert hpa.target_per_pod == 500.0
    assert hpa.desired(10_000, current=2) == (20, 20)


def test_prints_the_table(capsys) -> None:  # type: ignore[no-untyped-def]
    main(["--backlog", "10000"])
    assert "10,000        4        4  2 -> 4" in capsys.readouterr().out
