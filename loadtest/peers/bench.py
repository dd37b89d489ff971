"""One contender's run: enqueue everything, start the workers, measure the drain, then idle.

The load generator is out of the measurement by construction: every message is queued before the
first worker starts, and the drain is read from the simulator's record of the sends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from tempfile import mkdtemp
from typing import Any
from urllib.parse import urlsplit

import httpx

from loadtest.bench_pipeline import sim_messages
from loadtest.peers.contenders import Contender, Run
from loadtest.peers.measure import (
    connected_roots,
    idle_commands,
    process_trees,
    summarize_sends,
    trees_cpu_seconds,
)
from service.devstack import redis_server

#: How often the bench looks at the simulator and at the workers' sockets: fine enough to end
#: the CPU window within a few sends, coarse enough to cost the machine little.
POLL_SECONDS = 0.1
#: Booting takes a Python worker 1-3 s on a quiet machine; 120 s covers a busy shared one.
BOOT_TIMEOUT_SECONDS = 120.0
#: After the last send, before the idle window: lets in-flight acks and bookkeeping finish.
SETTLE_SECONDS = 2.0
#: SIGTERM grace for a worker: zapq drains for up to 25 s; the others stop within seconds.
STOP_TIMEOUT_SECONDS = 40.0


@dataclass(frozen=True)
class Limits:
    idle_seconds: float
    drain_timeout_seconds: float


class WorkerDied(RuntimeError):
    pass


@contextmanager
def workers(contender: Contender, run: Run, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``run.workers`` worker processes (output in ``logs``); stop them and every process
    they started, by PID, when the block ends."""
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(1, run.workers + 1):
            command = contender.worker(run, index)
            with open(logs / f"{contender.name}-worker{index}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        command.args, env=command.env, cwd=command.cwd, stdout=log, stderr=log
                    )
                )
        yield procs
    finally:
        _stop(procs)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to all at once (they stop in parallel), SIGKILL what outlives the grace, then
    SIGKILL any child a worker left behind."""
    trees = process_trees([p.pid for p in procs])
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for root, tree in trees.items():
        for pid in tree[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            print(f"killed pid {pid}, left behind by worker {root}", flush=True)


def _check_alive(procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    for proc in procs:
        if proc.poll() is not None:
            raise WorkerDied(f"{proc.args!r} exited with {proc.returncode}; see {logs}")


async def _stats(sim: httpx.AsyncClient) -> dict[str, Any]:
    stats: dict[str, Any] = (await sim.get("/_sim/stats")).json()
    return stats


async def _booted(
    procs: list[subprocess.Popen[bytes]], sim: httpx.AsyncClient, total: int, logs: Path
) -> tuple[int, float]:
    """Wait until every worker has connected to the simulator (booted and sending), or the drain
    is over; returns how many had connected and the seconds that took."""
    roots, port = [p.pid for p in procs], urlsplit(str(sim.base_url)).port or 80
    started = time.monotonic()
    while time.monotonic() - started < BOOT_TIMEOUT_SECONDS:
        _check_alive(procs, logs)
        connected = connected_roots(roots, port)
        if len(connected) == len(roots) or (await _stats(sim))["accepted"] >= total:
            return len(connected), time.monotonic() - started
        await asyncio.sleep(POLL_SECONDS)
    return len(connected_roots(roots, port)), time.monotonic() - started


async def _drained(
    procs: list[subprocess.Popen[bytes]],
    sim: httpx.AsyncClient,
    total: int,
    limits: Limits,
    logs: Path,
) -> bool:
    """Wait until the simulator has accepted every message once (True) or the deadline passed."""
    deadline = time.monotonic() + limits.drain_timeout_seconds
    while time.monotonic() < deadline:
        _check_alive(procs, logs)
        stats = await _stats(sim)
        if stats["accepted"] - stats["duplicates"] >= total:
            return True
        await asyncio.sleep(POLL_SECONDS)
    return False


async def _measure_workers(
    contender: Contender, run: Run, expected: list[str], limits: Limits, logs: Path
) -> dict[str, Any]:
    total = len(expected)
    async with httpx.AsyncClient(base_url=run.sim_url, timeout=30) as sim:
        await sim.post("/_sim/reset")
        with workers(contender, run, logs) as procs:
            roots = [p.pid for p in procs]
            connected, boot_seconds = await _booted(procs, sim, total, logs)
            cpu0, sent0 = trees_cpu_seconds(roots), (await _stats(sim))["accepted"]
            drained = await _drained(procs, sim, total, limits, logs)
            cpu1, sent1 = trees_cpu_seconds(roots), (await _stats(sim))["accepted"]
            await asyncio.sleep(SETTLE_SECONDS)
            idle = await idle_commands(run.redis_url, limits.idle_seconds, roots)
        stats = await _stats(sim)
    received = await sim_messages(run.sim_url)
    measured = sent1 - sent0
    return {
        "drained": drained,
        **summarize_sends(received, expected, run.rate_per_second),
        "cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / measured, 3) if measured else None,
        "cpu_measured_messages": measured,
        "workers_connected": connected,
        "boot_seconds": round(boot_seconds, 2),
        "idle": idle,
        "sim_stats": stats,
    }


async def run_contender(
    contender: Contender, base: Run, expected: list[str], limits: Limits, logs: Path
) -> dict[str, Any]:
    """Everything measured for one contender, on its own fresh redis-server."""
    load_before = os.getloadavg()[0]
    with redis_server(Path(mkdtemp(prefix=f"zapq-peers-{contender.name}-"))) as url:
        run = replace(base, redis_url=url)
        enqueue_seconds = await asyncio.to_thread(contender.enqueue, run)
        result = await _measure_workers(contender, run, expected, limits, logs)
    return {
        "peer": contender.name,
        "config": contender.config.format(**asdict(run)),
        "enqueue_seconds": round(enqueue_seconds, 2),
        "enqueue_msg_per_s": round(len(expected) / max(enqueue_seconds, 0.001), 1),
        **result,
        "load_average_1m_before": round(load_before, 2),
    }
