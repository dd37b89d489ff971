"""loadtest/peers/measure.py: the bench's columns, its /proc readings on real processes, and its
idle Redis count on a real Redis (the peers themselves are not needed here)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from loadtest.peers.measure import (
    connected_roots,
    idle_commands,
    process_trees,
    summarize_sends,
    trees_cpu_seconds,
)
from service.devstack import stop_process

# A parent that starts a child; the child connects to PORT, burns some CPU, then waits.
_FAMILY = """
import subprocess, sys
child = "import socket, time; s = socket.create_connection(('127.0.0.1', {port}));" \\
        "sum(range(3_000_000)); time.sleep(60)"
subprocess.Popen([sys.executable, "-c", child]).wait()
"""


def _send(number: str, at: float) -> dict[str, object]:
    return {"number": number, "text": f"t{number}", "received_at": at}


def test_summary_counts_peaks_losses_and_duplicates() -> None:
    # 50 sends at the limit's pace over the first second, then 10 in 0.1 s; one number is sent
    # twice, two are never sent.
    sends = [_send(f"55{i}", 100.0 + i * 0.02) for i in range(50)]
    sends += [_send(f"55{50 + i}", 101.0 + i * 0.01) for i in range(9)]
    sends.append(_send("+55 0", 101.09))  # "550" again, written differently
    expected = [f"55{i}" for i in range(61)]

    summary = summarize_sends(sends, expected, rate_per_second=50)

    assert summary["sends"] == 60
    assert summary["drain_seconds"] == 1.09
    assert summary["efficiency"] == round(60 / (1.09 * 50), 3)
    assert summary["peak_sends_in_any_1s"] == 55  # 100.10 .. 101.09: 45 + 10
    assert summary["peak_sends_in_any_1s_after_first_second"] == 10
    assert summary["sends_per_second_from_first"] == [50, 10]
    assert summary["lost"] == 2  # 5559 and 5560
    assert summary["duplicates"] == 1


def test_summary_of_nothing_sent_reports_every_message_lost() -> None:
    summary = summarize_sends([], ["551", "552"], rate_per_second=50)

    assert (summary["sends"], summary["efficiency"], summary["lost"]) == (0, None, 2)
    assert summary["peak_sends_in_any_1s"] == 0


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_a_process_tree_is_seen_connected_and_its_cpu_counted(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    parent = subprocess.Popen([sys.executable, "-c", _FAMILY.format(port=port)])
    try:
        deadline = time.monotonic() + 30
        while not connected_roots([parent.pid], port) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert connected_roots([parent.pid], port) == {parent.pid}
        with socket.create_server(("127.0.0.1", 0)) as other:
            assert connected_roots([parent.pid], other.getsockname()[1]) == set()
        tree = process_trees([parent.pid])[parent.pid]
        assert tree[0] == parent.pid and len(tree) == 2
        child_cpu = trees_cpu_seconds([tree[1]])
        assert 0 < child_cpu <= trees_cpu_seconds([parent.pid])
    finally:
        tree = process_trees([parent.pid])[parent.pid]
        stop_process(parent)
        for pid in tree[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def test_idle_commands_leave_out_the_bench_own_probes(redis_url: str) -> None:
    idle = await idle_commands(redis_url, 0.2, roots=[])

    assert idle["commands_per_second"] == 0
    assert idle["top_commands"] == {}
    assert idle["worker_cpu_percent"] == 0
