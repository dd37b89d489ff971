"""What the peers bench measures, all from outside the peers so every peer is measured alike.

CPU and sockets come from /proc (a worker is its launched process and every descendant: Dramatiq's
CLI runs a supervisor beside its worker process), Redis commands from ``INFO``, sends from the
simulator's own record of what it accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from loadtest.bench_pipeline import max_in_window
from loadtest.procs import cpu_seconds

#: /proc/net/tcp state code of an established connection.
_ESTABLISHED = "01"


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process now on the machine."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    return parents


def process_trees(roots: list[int]) -> dict[int, list[int]]:
    """Each root pid with all of its live descendants (itself first)."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    trees = {}
    for root in roots:
        tree, pending = [], [root]
        while pending:
            pid = pending.pop()
            tree.append(pid)
            pending += children.get(pid, [])
        trees[root] = tree
    return trees


def trees_cpu_seconds(roots: list[int]) -> float:
    """user + system CPU seconds of the roots and their descendants (ended ones count zero)."""
    total = 0.0
    for tree in process_trees(roots).values():
        for pid in tree:
            try:
                total += cpu_seconds(pid)
            except OSError:
                continue
    return total


def _connected_inodes(port: int) -> set[str]:
    """Socket inodes of established TCP connections to ``port`` (IPv4 and IPv6 tables)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _ESTABLISHED and int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = fd.readlink().name if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:  # ended, or an fd closed while we listed them
        pass
    return inodes


def connected_roots(roots: list[int], port: int) -> set[int]:
    """The roots whose process tree holds a connection to ``port``: a worker that has booted and
    taken its first job (every peer's HTTP client connects on its first send)."""
    connected = _connected_inodes(port)
    return {
        root
        for root, tree in process_trees(roots).items()
        if any(_socket_inodes(pid) & connected for pid in tree)
    }


async def idle_commands(url: str, seconds: float, roots: list[int]) -> dict[str, Any]:
    """Commands/s Redis runs for idle workers (``INFO``'s total_commands_processed, which counts the
    commands Lua scripts call), the busiest commands, and the workers' CPU meanwhile."""
    redis = Redis.from_url(url)
    await redis.ping()  # connects: the handshake's commands land before the first reading
    before, cpu0 = await redis.info("stats", "commandstats"), trees_cpu_seconds(roots)
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    after, cpu1 = await redis.info("stats", "commandstats"), trees_cpu_seconds(roots)
    elapsed = time.monotonic() - t0
    await redis.aclose()
    calls = {
        name.removeprefix("cmdstat_"): stats["calls"] - before.get(name, {}).get("calls", 0)
        for name, stats in after.items()
        if name.startswith("cmdstat_")
    }
    calls["info"] -= 1  # our first INFO is counted in the second reading; the second is not
    commands = after["total_commands_processed"] - before["total_commands_processed"] - 1
    return {
        "seconds": round(elapsed, 2),
        "commands_per_second": round(commands / elapsed, 1),
        "top_commands": dict(Counter({k: v for k, v in calls.items() if v}).most_common(6)),
        "worker_cpu_percent": round((cpu1 - cpu0) / elapsed * 100, 2),
    }


def digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _per_second(times: list[float]) -> list[int]:
    """Sends in each whole second counted from the first send (the shape of the drain)."""
    counts = Counter(int(t - times[0]) for t in times)
    return [counts[second] for second in range(max(counts, default=-1) + 1)]


def summarize_sends(
    received: list[dict[str, Any]], expected_numbers: list[str], rate_per_second: float
) -> dict[str, Any]:
    """The sender-side columns from the simulator's record (``received_at`` is unix seconds, taken
    when the request reached the simulator, before its latency)."""
    times = sorted(float(m["received_at"]) for m in received)
    per_number = Counter(digits(m["number"]) for m in received)
    drain_seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "sends": len(times),
        "drain_seconds": round(drain_seconds, 2),
        "efficiency": round(len(times) / (drain_seconds * rate_per_second), 3)
        if drain_seconds
        else None,
        "peak_sends_in_any_1s": max_in_window(times),
        "peak_sends_in_any_1s_after_first_second": max_in_window(
            [t for t in times if t >= times[0] + 1.0]
        )
        if times
        else 0,
        "sends_per_second_from_first": _per_second(times),
        "lost": sum(1 for number in expected_numbers if digits(number) not in per_number),
        "duplicates": sum(count - 1 for count in per_number.values()),
    }
