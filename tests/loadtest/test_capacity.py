"""loadtest/bench_capacity.py, scaled down so that it cannot rot: the parts it measures are real
(a worker draining into the simulator, the API taking messages) and the table follows from them."""

from __future__ import annotations

import math

import pytest

from loadtest.bench_capacity import PODS, SENDER_RATES, measure, redis_memory, sizing

pytestmark = pytest.mark.slow


@pytest.mark.timeout(300)
async def test_the_capacity_bench_measures_every_part_and_sizes_from_them() -> None:
    # 3,000 enqueued: batched messages cost ~0.05 ms of API CPU each, and /proc counts 10-ms ticks.
    measured = await measure(400, idle_seconds=1, warmup_sends=100, enqueued=3000)
    send, enqueue = measured["send"], measured["enqueue"]
    assert send["sent_measured"] >= 200 and send["pod_rate_msg_per_s"] > 0
    assert send["worker_cpu_ms_per_message"] > 0 and send["redis_cpu_ms_per_message_sent"] > 0
    assert "evalsha" in send["redis_commands_per_message_sent"]
    assert enqueue["api_cpu_ms_per_message_single"] > enqueue["api_cpu_ms_per_message_batch"] > 0
    rows = sizing(measured)
    assert [row["worker_pods"] for row in rows] == list(PODS)
    for row in rows:
        rate = row["worker_pods"] * send["pod_rate_msg_per_s"]
        assert row["senders"] == {name: math.ceil(rate / per) for name, per in SENDER_RATES.items()}
    totals = [row["vcpu_total"] for row in rows]
    assert totals == sorted(totals) and totals[0] > 0
    # 1,000,000 a day x 8 days (validity + retention) x 1,261 B measured per message.
    assert redis_memory(1_000_000)["gib"] == pytest.approx(9.4, abs=0.1)
