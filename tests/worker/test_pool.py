"""The sender pool with real `zapq worker` processes and the simulator: the per-sender limit shared
by every process, failover through the breakers, and a pool with no sender left."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from loadtest.bench_pipeline import max_in_window
from loadtest.procs import workers_connected
from service.queue.models import Breaker, NewMessage, now_ms
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import Settings
from tests.worker.conftest import eventually, sim_settings, wait_status
from tests.worker.procs import spawn, worker_env

pytestmark = pytest.mark.slow


def pool_env(redis_url: str, sim_url: str, senders: list[dict[str, Any]], **extra: str) -> Any:
    return worker_env(
        redis_url,
        sim_url,
        ZAPQ_SENDERS=orjson.dumps(senders).decode(),
        ZAPQ_WORKER__MAX_JOBS="10",
        ZAPQ_POOL__BREAKER_OPEN_SECONDS="1",
        **extra,
    )


async def enqueue(queue: MessageQueue, count: int, start: int = 0) -> list[str]:
    messages = [
        NewMessage(to=f"55119{70000000 + start + i}", text=f"m{start + i}") for i in range(count)
    ]
    return [r.message_id for r in await queue.enqueue(messages, "test")]


def per_sender(sim: Any) -> Counter[str]:
    return Counter(m["instance"] for m in sim.messages())


async def test_per_sender_limit_is_shared_by_every_process(
    redis: Redis, redis_url: str, sim: Any, settings: Settings, procs: list[Any], tmp_path: Path
) -> None:
    """6 worker processes, two senders at 20 msg/s with a burst of 5: no sender gets more than
    rate + burst in any 1-s window, the pool runs at >= 0.95 of 40 msg/s, nothing is sent twice."""
    rate, burst, total = 20, 5, 480
    sim.configure(instances={"s1": None, "s2": None}, latency_ms=50)
    senders = [{"name": n, "rate_per_second": rate, "burst": burst} for n in ("s1", "s2")]
    queue = MessageQueue(redis, sim_settings(settings, sim.url))
    env = pool_env(redis_url, sim.url, senders)
    procs.extend(spawn(env, tmp_path / f"worker-{i}.log") for i in range(6))
    # Six processes starting on a small machine starve each other of CPU: a send that leaves its
    # slot that late is not the limiter's doing, so the backlog arrives once they all wait for work.
    await eventually(lambda: workers_connected(redis_url, [p.pid for p in procs]), 120)
    ids = await enqueue(queue, total)
    for mid in ids:
        await wait_status(queue, mid, "sent", timeout=60)
    sends = sim.messages()
    assert len(sends) == total and sim.stats()["duplicates"] == 0
    for name in ("s1", "s2"):
        times = sorted(m["received_at"] for m in sends if m["instance"] == name)
        assert max_in_window(times) <= rate + burst, name
    times = sorted(m["received_at"] for m in sends)
    # The steady part: past the first second (burst) and short of the last (the tail of the drain).
    steady = [t for t in times if times[0] + 1 <= t <= times[-1] - 1]
    pool_rate = (len(steady) - 1) / (steady[-1] - steady[0])
    assert pool_rate >= 0.95 * 2 * rate, pool_rate
    workers = {r.sender for r in await queue.get_many(ids) if r}
    assert workers == {"s1", "s2"}


async def test_failover_and_recovery(
    redis: Redis, redis_url: str, sim: Any, settings: Settings, procs: list[Any], tmp_path: Path
) -> None:
    """s1's session refuses every send ("Connection Closed") while connectionState says open: its
    breaker opens, its traffic moves to s2, nothing ends dead or failed and no attempt is spent;
    once s1 recovers its breaker closes and it takes traffic again."""
    sim.configure(instances={"s1": None, "s2": None}, latency_ms=20)
    sim.instance("s1", connection_closed=True)
    senders = [{"name": n, "rate_per_second": 50, "burst": 5} for n in ("s1", "s2")]
    queue = MessageQueue(redis, sim_settings(settings, sim.url))
    registry = SenderRegistry(queue)
    first = await enqueue(queue, 100)
    procs.extend(
        spawn(pool_env(redis_url, sim.url, senders), tmp_path / f"w{i}.log") for i in (1, 2)
    )
    records = [await wait_status(queue, mid, "sent", timeout=60) for mid in first]
    assert {r.sender for r in records} == {"s2"}
    assert all(r.attempts == 1 for r in records), "a sender's refusals are not the message's"
    assert (await queue.stats()).dead_letters == 0
    refused = sim.stats()["by_instance"]["s1"]["by_status"].get("400", 0)
    assert 5 <= refused < 30, "the breaker stopped traffic to s1 after a few refusals"
    assert (await _state(registry, "s1")).breaker is not Breaker.CLOSED
    sim.instance("s1", connection_closed=False)
    # A half-open breaker lets trial sends through once there is traffic; a success closes it.
    second = await enqueue(queue, 100, start=100)
    records = [await wait_status(queue, mid, "sent", timeout=60) for mid in second]
    assert "s1" in {r.sender for r in records}, "the recovered sender takes traffic again"
    assert await _closed(registry, "s1")


async def _state(registry: SenderRegistry, name: str) -> Any:
    return next(s for s in await registry.states(now_ms()) if s.sender.name == name)


async def _closed(registry: SenderRegistry, name: str) -> bool:
    return (await _state(registry, name)).breaker is Breaker.CLOSED


async def test_no_sender_left_messages_wait(
    redis: Redis, redis_url: str, sim: Any, settings: Settings, procs: list[Any], tmp_path: Path
) -> None:
    """Every session down: messages wait in the queue (none dead, none failed), the workers export
    zapq_senders_available 0 (the alert's signal); when a session is back they are sent."""
    sim.configure(instances={"s1": None, "s2": None})
    for name in ("s1", "s2"):
        sim.instance(name, connection_closed=True)
    senders = [{"name": n, "rate_per_second": 50, "burst": 5} for n in ("s1", "s2")]
    queue = MessageQueue(redis, sim_settings(settings, sim.url))
    ids = await enqueue(queue, 30)
    env = pool_env(redis_url, sim.url, senders, ZAPQ_WORKER__STATS_INTERVAL_SECONDS="0.2")
    procs.append(spawn(env, tmp_path / "worker.log"))
    metrics_url = f"http://127.0.0.1:{env['ZAPQ_METRICS__PORT']}/metrics"
    await eventually(lambda: _gauge(metrics_url, "zapq_senders_available", 0.0), timeout=30)
    await asyncio.sleep(1.5)  # a breaker round (1 s) passes: trial sends fail, nothing else moves
    stats = await queue.stats()
    assert (stats.dead_letters, stats.retrying) == (0, 0)
    records = await queue.get_many(ids)
    assert {r.status for r in records if r} <= {"queued", "sending"}
    assert all(r.attempts == 0 for r in records if r and r.status == "queued")
    sim.instance("s2", connection_closed=False)
    for mid in ids:
        await wait_status(queue, mid, "sent", timeout=60)
    assert per_sender(sim) == Counter({"s2": 30})


async def _gauge(url: str, name: str, value: float) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(url)).text
    except httpx.TransportError:  # the worker's metrics server is not up yet
        return False
    return f"{name} {value}" in text
