"""One hash tag pins every zapq key to one Redis Cluster slot, so one shard serves all of zapq: what
that shard carries, against one plain Redis, in the same run. Rerun with:

    .venv/bin/python -m loadtest.bench_topologies [--messages 20000] [--workers 3] [--rounds 2]

For each topology (one redis-server; a 3-master cluster of redis-server --cluster-enabled on
loopback) it enqueues the messages in batches of 500 from 4 concurrent producers (the enqueue
script the API and the scheduler use), then drains them with `zapq worker` processes into the
Evolution simulator (no latency; two senders at 1,000/s each so that nothing but the machine limits
it). Figures: messages/s enqueued and sent, and the CPU the Redis that owns zapq's slot spent per
message (INFO cpu): its inverse is what one shard could carry on one core. Everything runs on
127.0.0.1 and is stopped by PID at the end; figures print as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
from redis.asyncio import Redis

from loadtest.procs import process, simulator, zapq_env
from service.devstack import redis_server
from service.queue.keys import Keys
from service.queue.models import NewMessage
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.senders.registry import SenderRegistry
from service.settings import Settings
from tests.redis.servers import redis_cluster

PRODUCERS, BATCH = 4, 500
SENDERS = [
    {"name": f"s{index}", "instance": "zapq", "rate_per_second": 1000, "burst": 1000}
    for index in range(2)
]
TEXT = "Olá Maria, sua fatura de R$ 1.234,56 vence em 25/11/2026. Pague pelo PIX: 00020126..."


@contextlib.contextmanager
def topology(kind: str) -> Iterator[str]:
    data = Path(mkdtemp(prefix=f"zapq-bench-{kind}-"))
    if kind == "standalone":
        with redis_server(data) as url:
            yield url
    else:
        with redis_cluster(data) as cluster:
            yield cluster.url


async def redis_cpu_seconds(client: Redis) -> float:
    """CPU the Redis this client talks to has used (INFO cpu: user + sys), in seconds."""
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def enqueue(queue: MessageQueue, total: int) -> float:
    """Enqueue ``total`` messages from PRODUCERS concurrent producers; seconds it took."""

    async def produce(offset: int) -> None:
        for start in range(offset, total, PRODUCERS * BATCH):
            batch = [
                NewMessage(to=f"55119{80000000 + index}", text=TEXT)
                for index in range(start, min(start + BATCH, total))
            ]
            await queue.enqueue(batch, "bench")

    started = time.perf_counter()
    await asyncio.gather(*(produce(p * BATCH) for p in range(PRODUCERS)))
    return time.perf_counter() - started


async def drain(sim: str, total: int) -> float:
    """Seconds from the first send to the last, polling the simulator."""
    async with httpx.AsyncClient(base_url=sim, timeout=10) as client:
        first = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            accepted = (await client.get("/_sim/stats")).json()["accepted"]
            now = time.perf_counter()
            if accepted and first is None:
                first = now
            if accepted >= total:
                return now - (first or now)
            await asyncio.sleep(0.05)
    raise TimeoutError("the workers did not drain the queue in 10 minutes")


async def measure(kind: str, url: str, sim: str, total: int, workers: int) -> dict[str, Any]:
    settings = Settings(redis_url=url, senders=SENDERS)
    client: Redis = create_redis(settings, "bench")
    queue = MessageQueue(client, settings)
    try:
        await SenderRegistry(queue).bootstrap()
        cpu0 = await redis_cpu_seconds(client)
        enqueue_seconds = await enqueue(queue, total)
        cpu1 = await redis_cpu_seconds(client)
        env = zapq_env(
            url,
            sim,
            ZAPQ_SENDERS=json.dumps(SENDERS),
            ZAPQ_WORKER__RATE_PER_SECOND="10000",
            ZAPQ_WORKER__RATE_BURST="1000",
            ZAPQ_WORKER__MAX_JOBS="20",
        )
        with contextlib.ExitStack() as stack:
            for _ in range(workers):
                stack.enter_context(process(["-m", "service", "worker"], env))
            drain_seconds = await drain(sim, total)
        cpu2 = await redis_cpu_seconds(client)
        ready = await client.zcard(Keys().queue)
    finally:
        await client.aclose()
    cpu_per_message = (cpu2 - cpu0) / total
    return {
        "topology": kind,
        "messages": total,
        "left_ready": ready,
        "enqueued_per_second": round(total / enqueue_seconds),
        "sent_per_second": round(total / drain_seconds),
        "redis_cpu_ms_per_message_enqueue": round((cpu1 - cpu0) / total * 1000, 4),
        "redis_cpu_ms_per_message_total": round(cpu_per_message * 1000, 4),
        "one_core_shard_ceiling_messages_per_second": round(1 / cpu_per_message),
    }


async def run(total: int, workers: int, rounds: int) -> list[dict[str, Any]]:
    """Alternating topologies, ``rounds`` times each: a shared machine's noise hits both."""
    results = []
    with simulator(latency_ms=0) as sim:
        for kind in ("standalone", "cluster") * rounds:
            httpx.post(f"{sim}/_sim/reset", json={"config": False}, timeout=10)
            with topology(kind) as url:
                results.append(await measure(kind, url, sim, total, workers))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    machine = f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    print(json.dumps({"machine": machine}))
    for result in asyncio.run(run(args.messages, args.workers, args.rounds)):
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
