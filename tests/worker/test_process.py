"""Real `zapq worker` processes: SIGTERM drains, SIGKILL loses nothing, Redis restarts pass."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from service.devstack import free_port, redis_server
from service.queue.store import MessageQueue
from service.settings import Settings
from tests.worker.conftest import enqueue, eventually, sim_settings, wait_status
from tests.worker.procs import in_flight, spawn, worker_env

pytestmark = pytest.mark.slow


async def test_sigterm_drains_in_flight_and_loses_nothing(
    redis: Redis, redis_url: str, sim: Any, settings: Settings, procs: list[Any], tmp_path: Path
) -> None:
    sim.configure(latency_ms=1000)
    queue = MessageQueue(redis, sim_settings(settings, sim.url))
    ids = await enqueue(queue, 20)
    env = worker_env(redis_url, sim.url, ZAPQ_WORKER__DRAIN_TIMEOUT_SECONDS="10")
    worker = spawn(env, tmp_path / "worker.log")
    procs.append(worker)
    await eventually(lambda: in_flight(sim, 5))
    worker.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(worker.wait, 20) == 0
    records = [await queue.get(mid) for mid in ids]
    statuses = [r.status for r in records if r]
    # The five in flight finished during the drain; nothing was taken that was not finished.
    assert statuses.count("sent") >= 5
    assert set(statuses) <= {"sent", "queued"}
    assert sim.stats()["accepted"] == statuses.count("sent")
    procs.append(spawn(env, tmp_path / "worker2.log"))
    for mid in ids:
        await wait_status(queue, mid, "sent", timeout=30)
    assert sim.stats()["duplicates"] == 0
    assert "worker stopped" in (tmp_path / "worker.log").read_text()


async def test_sigkill_loses_nothing(
    redis: Redis, redis_url: str, sim: Any, settings: Settings, procs: list[Any], tmp_path: Path
) -> None:
    sim.configure(latency_ms=1500)
    queue = MessageQueue(redis, sim_settings(settings, sim.url))
    ids = await enqueue(queue, 10)
    # A short job timeout so that the in-flight lock (timeout + 10 s) frees the jobs quickly.
    env = worker_env(
        redis_url,
        sim.url,
        ZAPQ_WORKER__JOB_TIMEOUT_SECONDS="6",
        ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS="3",
        ZAPQ_EVOLUTION__CONNECT_TIMEOUT_SECONDS="1",
    )
    victim = spawn(env, tmp_path / "victim.log")
    procs.append(victim)
    await eventually(lambda: in_flight(sim, 5))
    victim.kill()
    victim.wait(5)
    procs.append(spawn(env, tmp_path / "rescuer.log"))
    records = [await wait_status(queue, mid, "sent", timeout=60) for mid in ids]
    redelivered = [r for r in records if r.attempts > 1]
    assert len(redelivered) >= 1, "the killed worker's in-flight jobs were picked up again"
    assert all(r.history[-2]["status"] == "sending" for r in records)
    # Requests cut by the kill may or may not have reached Evolution: at most those are duplicated.
    assert sim.stats()["duplicates"] <= len(redelivered)


async def test_worker_survives_a_redis_restart(
    sim: Any, settings: Settings, procs: list[Any], tmp_path: Path
) -> None:
    sim.configure(latency_ms=200)
    port = free_port()
    data = tmp_path / "redis"
    with redis_server(data, port, appendonly=True) as url:
        client = Redis.from_url(url)
        queue = MessageQueue(client, sim_settings(settings, sim.url))
        first = await enqueue(queue, 5)
        env = worker_env(url, sim.url, ZAPQ_WORKER__JOB_TIMEOUT_SECONDS="12")
        procs.append(spawn(env, tmp_path / "worker.log"))
        for mid in first:
            await wait_status(queue, mid, "sent")
        await client.aclose()
    # Redis is down now; the worker keeps polling with backoff instead of exiting.
    await asyncio.sleep(1.5)
    assert procs[0].poll() is None, "the worker must not exit while Redis is away"
    with redis_server(data, port, appendonly=True) as url:
        client = Redis.from_url(url)
        queue = MessageQueue(client, sim_settings(settings, sim.url))
        second = await enqueue(queue, 5)
        for mid in [*first, *second]:
            await wait_status(queue, mid, "sent", timeout=40)
        await client.aclose()
    assert "redis unavailable" in (tmp_path / "worker.log").read_text()
