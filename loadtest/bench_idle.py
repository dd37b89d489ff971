"""Idle cost and wake-up latency (issue #14, item 5). Rerun with:

    .venv/bin/python -m loadtest.bench_idle [--before REF] [--seconds 20]

An idle stack (one `zapq api`, 4 `zapq worker` processes, an empty queue, nobody scraping):
Redis commands per second (INFO's total_commands_processed, which counts the commands run inside
scripts, minus this benchmark's own INFO calls) and CPU per idle worker; then an urgent message
posted to it, 5 times: the time from the POST to the simulator receiving it. Measured for the
commit given by --before (run from a temporary git worktree: the polling workers) and for this
tree, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from loadtest.bench_pipeline import AUTH, redis_url, wait_until
from loadtest.bench_pool import BEFORE_REF, ROOT, checkout
from loadtest.procs import cpu_seconds, simulator, zapq_env
from service.devstack import free_port, stop_process, wait_for_port

PYTHON = str(ROOT / ".venv" / "bin" / "python")


@contextmanager
def stack(tree: Path, url: str, sim: str, workers: int = 4) -> Iterator[tuple[int, list[int]]]:
    """`zapq api` and ``workers`` workers of the code in ``tree``: (api port, worker pids)."""
    env = zapq_env(url, sim)
    api_port = free_port()
    with ExitStack() as stack_:
        procs = []
        for args in [["api", "--port", str(api_port)]] + [["worker"]] * workers:
            proc = subprocess.Popen(
                [PYTHON, "-m", "service", *args], env=env, cwd=tree, stdout=subprocess.DEVNULL
            )
            stack_.callback(stop_process, proc, 40)
            procs.append(proc)
        wait_for_port(api_port, timeout_seconds=30, proc=procs[0])
        yield api_port, [proc.pid for proc in procs[1:]]


async def _commands(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_commands_processed"])


async def idle(redis: Redis, pids: list[int], seconds: float) -> dict[str, Any]:
    await asyncio.sleep(3)  # start-up settles (registry bootstrap, first polls)
    cpu0 = [cpu_seconds(pid) for pid in pids]
    before = await _commands(redis)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    after = await _commands(redis)
    elapsed = time.monotonic() - started
    cpu1 = [cpu_seconds(pid) for pid in pids]
    # Our two INFO calls are commands too: one of them falls inside the window.
    commands = after - before - 1
    per_worker_cpu = [(b - a) / elapsed for a, b in zip(cpu0, cpu1, strict=True)]
    return {
        "redis_commands_per_second": round(commands / elapsed, 1),
        "cpu_share_of_a_core_per_idle_worker": round(sum(per_worker_cpu) / len(pids), 4),
    }


async def urgent(api_port: int, sim: str, samples: int = 5) -> list[float]:
    """POST an urgent message to the idle stack; seconds until the simulator received it."""
    latencies = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", headers=AUTH) as api:
        for index in range(samples):
            await asyncio.sleep(3)  # idle again: every worker is back in its idle wait
            posted = time.time()
            body = {"to": f"+55119{index:08d}", "text": f"urgente {index}", "priority": "urgent"}
            response = await api.post("/v1/messages", json=body)
            assert response.status_code == 202, response.text

            async def arrived(count: int = index + 1) -> bool:
                return len(httpx.get(f"{sim}/_sim/messages").json()) >= count

            await wait_until(arrived, 30, 0.005)
            received = httpx.get(f"{sim}/_sim/messages").json()[index]["received_at"]
            latencies.append(round(received - posted, 3))
    return latencies


async def measure(tree: Path, label: str, seconds: float) -> dict[str, Any]:
    with redis_url() as url, simulator(latency_ms=100) as sim, stack(tree, url, sim) as running:
        api_port, pids = running
        redis = Redis.from_url(url)
        try:
            result = {"code": label, **await idle(redis, pids, seconds)}
            result["urgent_post_to_sent_seconds"] = await urgent(api_port, sim)
        finally:
            await redis.aclose()
    return result


async def main_async(before: str, seconds: float) -> dict[str, Any]:
    with checkout(before) as tree:
        old = await measure(tree, f"{before} (polling workers)", seconds)
    new = await measure(ROOT, "this tree", seconds)
    return {
        "stack": "1 api + 4 workers, empty queue, no scraper",
        "before": old,
        "after": new,
        "redis_commands_after_over_before": round(
            new["redis_commands_per_second"] / old["redis_commands_per_second"], 4
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", default=BEFORE_REF, help="the commit to compare with")
    parser.add_argument("--seconds", type=float, default=20.0, help="idle window (default 20)")
    args = parser.parse_args()
    machine = f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}"
    print(json.dumps({"machine": f"{machine}, Python {platform.python_version()}"}))
    print(json.dumps({"idle": asyncio.run(main_async(args.before, args.seconds))}), flush=True)


if __name__ == "__main__":
    main()
