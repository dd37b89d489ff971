"""loadtest/scale end to end, tiny: 200 messages through the API, drained by workers that the
emulated HPA scales 1 -> 2 on the backlog (1 s syncs) and back to 1 once drained, with nothing
lost or sent twice, the report and plot written, and the scaled-down worker drained on SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.scale.config import RunConfig, Scenario
from loadtest.scale.report import write
from loadtest.scale.run import run

pytestmark = pytest.mark.slow  # ~20 s: five processes start and stop

TINY = Scenario("tiny", 200, "200 messages, 1 -> 2 workers", 10)
VALUES = (
    ("worker.autoscaling.minReplicas", 1),
    ("worker.autoscaling.maxReplicas", 2),
    # Target 20 msg/s x 5 s = 100 ready per pod: 200 ready asks for 2.
    ("worker.autoscaling.queue.backlogSeconds", 5),
    # An idle worker holds ~46 % of its memory request, and ceil(46/80 x 2 pods) = 2: the memory
    # metric alone would keep 2 pods. At 200 % it asks for 1.
    ("worker.autoscaling.targetMemoryUtilizationPercentage", 200),
    # Come back down within the test: no stabilization, 1 pod per second.
    ("worker.autoscaling.behavior.scaleDown.stabilizationWindowSeconds", 0),
    ("worker.autoscaling.behavior.scaleDown.periodSeconds", 1),
)


def test_a_tiny_burst_scales_workers_up_and_down_and_loses_nothing(tmp_path: Path) -> None:
    config = RunConfig(
        rate_scale=0.4, full_counts=True, senders=2, sync_seconds=1, tail_seconds=4, values=VALUES
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    outcome = run(TINY, config, logs)
    figures = write(outcome, tmp_path)
    assert (figures["sent"], figures["lost"], figures["duplicates"]) == (200, 0, 0)
    assert figures["replica_path"].startswith("1 -> 2")
    assert figures["replica_path"].endswith("2 -> 1")
    assert figures["pods_started"] == 2
    assert figures["scaled_down_pods_exit_codes"] == [0]  # drained and exited on SIGTERM
    assert set(figures["per_sender_sent"]) == {"s1", "s2"}
    saved = json.loads((tmp_path / "scale-tiny.json").read_text())
    assert saved["syncs"] and saved["samples"]
    assert (tmp_path / "scale-tiny.png").read_bytes().startswith(b"\x89PNG")
