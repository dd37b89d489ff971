"""Fixtures of the Redis-in-production tests: a queue with one fast sender, a Redis made full on
demand, and the worker fixtures (tests/worker/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from tests.worker.conftest import procs, start_worker, wsettings  # noqa: F401 (fixtures)

Fill = Callable[[bool], Awaitable[None]]


@pytest.fixture
async def full(redis: Redis) -> AsyncIterator[Fill]:
    """``await full(True)`` makes Redis full (maxmemory 1 byte: used memory is past it, writes
    that may grow memory are refused); ``full(False)`` lifts the limit. Lifted after the test."""

    async def set_full(on: bool = True) -> None:
        await redis.config_set("maxmemory", 1 if on else 0)

    yield set_full
    await redis.config_set("maxmemory", 0)


async def snapshot(redis: Redis) -> dict[bytes, tuple[bytes, bytes | None]]:
    """Every key with its type and serialized value: equal snapshots, nothing was written."""
    keys = [key async for key in redis.scan_iter(count=1000)]
    return {key: (await redis.type(key), await redis.dump(key)) for key in sorted(keys)}
