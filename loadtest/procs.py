"""Process helpers for the benchmarks: start zapq roles on loopback, read CPU and RSS from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.devstack import free_port, stop_process, wait_for_port

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of one process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


#: The API key every load test and end-to-end test uses (128 bits, as zapq requires).
BENCH_API_KEY = "bench-key-2b7f4e91c05d48a3b6e0f1c9d8a7e523"
AUTH = {"Authorization": f"Bearer {BENCH_API_KEY}"}


def zapq_env(redis_url: str, sim_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ZAPQ_REDIS_URL=redis_url,
        ZAPQ_API_KEYS=BENCH_API_KEY,
        ZAPQ_EVOLUTION__BASE_URL=sim_url,
        ZAPQ_EVOLUTION__API_KEY="evo-key",
        ZAPQ_EVOLUTION__INSTANCE="zapq",
        ZAPQ_LOG_LEVEL="WARNING",
        ZAPQ_METRICS__PORT="0",
    )
    env.update(extra)
    return env


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL)
    try:
        if port is not None:
            wait_for_port(port, timeout_seconds=30, proc=proc)
        yield proc
    finally:
        stop_process(proc, timeout_seconds=40)


@contextmanager
def simulator(latency_ms: int, instances: list[str] | None = None) -> Iterator[str]:
    """The Evolution simulator; ``instances`` are connected instances (default: "zapq")."""
    port = free_port()
    args = ["-m", "service.sim", "--port", str(port), "--latency-ms", str(latency_ms)]
    for name in instances or []:
        args += ["--instance", name]
    with process(args, port=port):
        yield f"http://127.0.0.1:{port}"


async def workers_connected(redis_url: str, pids: list[int]) -> bool:
    """Every one of these worker processes has a connection to Redis (zapq names its connections
    ``zapq-<role>-<host>-<pid>``, seen in CLIENT LIST): their start-up is over."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        names = {client["name"] for client in await redis.client_list()}
    finally:
        await redis.aclose()
    return all(any(name.endswith(f"-{pid}") for name in names) for pid in pids)
