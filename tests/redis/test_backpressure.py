"""Backpressure before the wall: past api.max_ready_messages or api.max_redis_memory_ratio the API
refuses new messages (503 queue_full, a batch whole) and the scheduler waits within its window."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from service.api.app import create_app
from service.queue.backpressure import Reading
from service.queue.keys import DEFAULT
from service.redis import Memory, memory
from service.scheduler.run import Outputs, RunOptions, run_schedule
from service.scheduler.summary import Summary
from service.settings import Settings
from tests.redis.conftest import Fill
from tests.scheduler.billing_api import BillingApi
from tests.scheduler.conftest import MONDAY, at, billing, billing_server, charge, ssettings
from tests.worker.conftest import eventually

__all__ = ["billing", "billing_server", "ssettings"]  # fixtures

AUTH = {"Authorization": "Bearer test-key"}
ONE = {"to": "+5511987654321", "text": "oi"}


def limited(settings: Settings, **api: Any) -> Settings:
    return settings.model_copy(update={"api": settings.api.model_copy(update=api)})


@pytest.fixture
async def client(settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(limited(settings, max_ready_messages=5))
    async with app.router.lifespan_context(app):
        app.state.backpressure.reading_ttl_seconds = 0  # every request reads the queue
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTH) as c:
            yield c


def queue_full(response: httpx.Response) -> bool:
    return (
        response.status_code,
        response.json()["error"],
        response.headers.get("retry-after"),
    ) == (503, "queue_full", "30")


async def test_past_the_ready_limit_new_messages_are_refused(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    for _ in range(4):
        assert (await client.post("/v1/messages", json=ONE)).status_code == 202
    # 4 ready + 3 would pass 5: the batch is refused whole, nothing of it is enqueued.
    batch = await client.post("/v1/messages/batch", json={"messages": [ONE, ONE, ONE]})
    assert queue_full(batch)
    assert "nothing was enqueued" in batch.json()["detail"]
    assert await redis.zcard(DEFAULT.queue) == 4
    assert (await client.post("/v1/messages", json=ONE)).status_code == 202
    assert queue_full(await client.post("/v1/messages", json=ONE))
    # A batch of only invalid items enqueues nothing: it is answered, not refused.
    rejected = await client.post("/v1/messages/batch", json={"messages": [{"to": "1"}]})
    assert (rejected.status_code, rejected.json()["rejected"]) == (202, 1)
    # Draining makes room again.
    await redis.zpopmin(DEFAULT.queue, 3)
    again = await client.post("/v1/messages/batch", json={"messages": [ONE] * 3})
    assert again.status_code == 202


def test_which_limit_refuses() -> None:
    room, near, full = Memory(50, 100), Memory(95, 100), Memory(101, 100)
    assert Reading(4, room, 0).refusal(2, 5, 0.9) == "ready_backlog"
    assert Reading(0, room, 0).refusal(50, 5, 0.9) is None, "an empty queue takes any batch"
    assert Reading(0, Memory(95, 0), 0).refusal(1, 0, 0.9) is None, "no maxmemory, no limit"
    assert Reading(0, near, 0).refusal(1, 5, 0.9) == "redis_memory"
    assert Reading(9, full, 0).refusal(1, 5, 0.9) == "redis_full"


async def test_close_to_maxmemory_new_messages_are_refused(
    client: httpx.AsyncClient, redis: Redis, full: Fill
) -> None:
    used = (await memory(redis)).used_bytes
    # 95 % used: past the default 90 % threshold, below the wall.
    await redis.config_set("maxmemory", int(used / 0.95))
    response = await client.post("/v1/messages", json=ONE)
    assert queue_full(response), response.json()
    assert "memory" in response.json()["detail"]
    await full(False)
    assert (await client.post("/v1/messages", json=ONE)).status_code == 202


async def _run(settings: Settings, start_ms: int) -> Summary:
    """A schedule run whose clock moves (it waits in real time) from ``start_ms``."""
    began = time.monotonic()

    def clock() -> int:
        return start_ms + int((time.monotonic() - began) * 1000)

    outputs = Outputs(io.StringIO(), io.StringIO())
    return await run_schedule(settings, RunOptions(), clock=clock, outputs=outputs)


async def test_the_scheduler_waits_for_room_then_enqueues(
    ssettings: Settings, billing: BillingApi, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    billing.reset([charge(f"c{index}", MONDAY) for index in range(3)])
    settings = limited(ssettings, max_ready_messages=4)
    await redis.zadd(DEFAULT.queue, {f"backlog{index}": index for index in range(4)})
    task = asyncio.create_task(_run(settings, at(MONDAY, 9)))

    async def waiting() -> bool:
        return "the queue is full: waiting" in caplog.text

    await eventually(waiting)
    assert not task.done(), "the run waits instead of failing"
    assert await redis.zcard(DEFAULT.queue) == 4
    await redis.delete(DEFAULT.queue)  # the workers drained the backlog
    summary = await asyncio.wait_for(task, 30)
    result = summary.as_dict()
    assert result["ok"] and result["enqueued"] == 3, result


async def test_the_scheduler_gives_up_after_its_wait(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge("c1", MONDAY)])
    settings = limited(ssettings, max_ready_messages=1)
    settings = settings.model_copy(
        update={"schedule": settings.schedule.model_copy(update={"queue_full_wait_seconds": 0.3})}
    )
    await redis.zadd(DEFAULT.queue, {"backlog": 1})
    result = (await _run(settings, at(MONDAY, 9))).as_dict()
    assert not result["ok"]
    assert result["error_code"] == "queue_full", result
    assert await redis.zcard(DEFAULT.queue) == 1


async def test_an_idle_queue_costs_a_reading_per_half_second(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        backpressure = app.state.backpressure
        first = await backpressure.reading()
        assert await backpressure.reading() is first
        await eventually(lambda: _newer(backpressure, first), timeout=5)


async def _newer(backpressure: Any, reading: Any) -> bool:
    return bool((await backpressure.reading()) is not reading)


async def test_a_redis_that_refuses_info_turns_the_memory_check_off(
    settings: Settings, redis: Redis
) -> None:
    """An ACL user without @dangerous (INFO is in it), as many managed services hand out."""
    await redis.acl_setuser(
        "zapq-limited", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
        commands=["+@all", "-@dangerous"],
    )  # fmt: skip
    try:
        url = settings.redis_url.get_secret_value().replace("redis://", "redis://zapq-limited:pw@")
        limited_settings = settings.model_copy(
            update={"redis_url": Settings(redis_url=url).redis_url}
        )
        app = create_app(limited_settings)
        async with app.router.lifespan_context(app):
            assert await memory(app.state.queue.redis) == Memory(0, 0)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=AUTH
            ) as client:
                assert (await client.post("/v1/messages", json=ONE)).status_code == 202
    finally:
        await redis.acl_deluser("zapq-limited")
