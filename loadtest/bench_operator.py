"""How fast `zapq operator` reacts (issue #9's closing figures). Rerun with:

    .venv/bin/python -m loadtest.bench_operator                       # ~1 min; JSON figures
    .venv/bin/python -m loadtest.bench_operator --interval 5 --runs 5

Everything real but the Kubernetes API: redis-server, the Evolution simulator with a 2 s connect
delay (the "QR scan"), `zapq operator` as a process, and kmock (the Kubernetes API emulator) in
this process. For each run it measures
  - apply -> Connected: from the POST of a WhatsAppInstance to status.phase Connected (create,
    webhook, sender registered paused, QR code issued, 2 s of "scanning", the next timer tick);
  - drop -> paused: from the simulator closing the session for good (a logout) to the sender
    being paused in zapq's registry (the next timer tick, then one registry write).
Both are bounded below by the simulator's delay and the timer: the state interval
(ZAPQ_OPERATOR__STATE_INTERVAL_SECONDS, --interval) adds up to one period to each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import kmock
from redis.asyncio import Redis

from service.devstack import free_port, redis_server, stop_process, wait_for_port
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import Settings
from tests.operator.harness import (
    declare,
    eventually,
    instance,
    kubeconfig,
    operator_env,
    path,
    running_operator,
    status,
)

CONNECT_DELAY_SECONDS = 2.0


def start_sim(port: int, log: Path) -> subprocess.Popen[bytes]:
    args = ["--host", "127.0.0.1", "--port", str(port)]
    args += ["--connect-delay-seconds", str(CONNECT_DELAY_SECONDS)]
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.sim", *args], stdout=output, stderr=subprocess.STDOUT
        )
    wait_for_port(port, 15, proc=proc)
    return proc


async def one_run(
    emulator: kmock.KubernetesEmulator, registry: SenderRegistry, sim_url: str, name: str
) -> tuple[float, float]:
    """(apply -> Connected, drop -> paused) in seconds for one new resource."""
    started = time.perf_counter()
    await emulator.post(path(), json=instance(name, evolution={"url": sim_url}))
    await eventually(lambda: status(emulator, name).get("phase") == "Connected", 60, name)
    connected = time.perf_counter() - started

    async def paused() -> bool:
        sender = await registry.get(name)
        return sender is not None and sender.paused

    async with httpx.AsyncClient(base_url=sim_url) as control:
        dropped = time.perf_counter()
        await control.post(f"/_sim/instances/{name}", json={"state": "close"})
    await eventually(paused, 60, f"{name} paused")
    return connected, time.perf_counter() - dropped


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 2),
        "min_s": round(min(values), 2),
        "max_s": round(max(values), 2),
    }


async def bench(interval: float, runs: int, work: Path) -> dict[str, Any]:
    sim_port = free_port()
    sim = start_sim(sim_port, work / "sim.log")
    sim_url = f"http://127.0.0.1:{sim_port}"
    try:
        with redis_server(work / "redis") as redis_url:
            redis = Redis.from_url(redis_url)
            registry = SenderRegistry(MessageQueue(redis, Settings(redis_url=redis_url)))
            async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator):
                declare(emulator)
                config = kubeconfig(work / "kubeconfig", str(emulator.url))
                env = operator_env(redis_url, sim_url, config)
                env["ZAPQ_OPERATOR__STATE_INTERVAL_SECONDS"] = str(interval)
                env["ZAPQ_LOG_LEVEL"] = "INFO"
                async with running_operator(env, work / "operator.log"):
                    results = [
                        await one_run(emulator, registry, sim_url, f"number-{i}")
                        for i in range(runs)
                    ]
            await redis.aclose()
    finally:
        stop_process(sim)
    return {
        "state_interval_seconds": interval,
        "connect_delay_seconds": CONNECT_DELAY_SECONDS,
        "runs": runs,
        "apply_to_connected": summary([r[0] for r in results]),
        "drop_to_paused": summary([r[1] for r in results]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, action="append", help="state interval(s), s")
    parser.add_argument("--runs", type=int, default=5, help="resources per interval (default 5)")
    args = parser.parse_args()
    figures = []
    for interval in args.interval or [5.0, 1.0]:
        with tempfile.TemporaryDirectory(prefix="bench-operator-") as work:
            figures.append(asyncio.run(bench(interval, args.runs, Path(work))))
    print(json.dumps({"machine": platform.machine(), "results": figures}, indent=2))


if __name__ == "__main__":
    main()
