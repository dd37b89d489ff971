"""In-process workers against the real Redis and the simulator."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from service.devstack import stop_process
from service.queue.models import MessageRecord, NewMessage
from service.queue.store import MessageQueue
from service.settings import Settings
from service.worker.main import ZapqWorker, create_worker

Factory = Callable[..., Awaitable[ZapqWorker]]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Wait (bounded) for a condition; a timeout fails the test, it never asserts a duration."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.02)


def sim_settings(
    base: Settings,
    sim_url: str,
    evolution: dict[str, Any] | None = None,
    *,
    senders: list[dict[str, Any]] | None = None,
    **worker: Any,
) -> Settings:
    """Settings for a worker against the simulator (validated, so secrets stay SecretStr); a
    breaker waits 0.3 s before trial sends. ``senders``: ZAPQ_SENDERS (default: the one sender of
    the evolution settings, 1,000 msg/s so that the limiter holds no test back)."""
    data = base.model_dump()
    data["redis_url"] = base.redis_url.get_secret_value()
    data["api_keys"] = [k.get_secret_value() for k in base.api_keys]
    data["evolution"].update(
        base_url=sim_url, api_key="evo-key", instance="zapq", read_timeout_seconds=2
    )
    data["evolution"].update(evolution or {})
    data["worker"].update(
        retry_delays_seconds=[0.05, 0.1, 0.15],
        poll_delay_seconds=0.01,
        stats_interval_seconds=0.2,
        job_timeout_seconds=10,
        **worker,
    )
    data["metrics"]["port"] = 0
    data["pool"].update(breaker_open_seconds=0.3)
    instance = data["evolution"]["instance"]
    data["senders"] = senders or [{"name": instance, "rate_per_second": 1000, "burst": 100}]
    return Settings.model_validate(data)


@pytest.fixture
def wsettings(settings: Settings, sim: Any) -> Settings:
    return sim_settings(settings, sim.url)


@pytest.fixture
def queue(redis: Redis, wsettings: Settings) -> MessageQueue:
    return MessageQueue(redis, wsettings)


@pytest.fixture
async def start_worker(wsettings: Settings) -> AsyncIterator[Factory]:
    running: list[tuple[ZapqWorker, asyncio.Task[None]]] = []

    async def start(settings: Settings | None = None, **overrides: Any) -> ZapqWorker:
        worker = create_worker(settings or wsettings, handle_signals=False, **overrides)
        task = asyncio.create_task(worker.main())
        worker.main_task = task
        running.append((worker, task))
        return worker

    yield start
    for worker, task in running:
        await worker.close()
        await asyncio.gather(task, return_exceptions=True)


async def enqueue(queue: MessageQueue, count: int = 1, **kwargs: Any) -> list[str]:
    text = kwargs.pop("text", None)
    messages = [
        NewMessage(to=f"55119{87650000 + i}", text=text or f"msg {i}", **kwargs)
        for i in range(count)
    ]
    return [r.message_id for r in await queue.enqueue(messages, "test")]


async def wait_status(
    queue: MessageQueue, message_id: str, *statuses: str, timeout: float = 20
) -> MessageRecord:
    async def reached() -> bool:
        record = await queue.get(message_id)
        return record is not None and record.status in statuses

    await eventually(reached, timeout)
    record = await queue.get(message_id)
    assert record is not None
    return record


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; each is stopped by its PID at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        stop_process(proc)
