"""More callers than connections: they wait for one (service/redis_pool.py) instead of failing
with redis-py's "Too many connections", which the API answered as 503 "Redis unreachable" (found
by locust: status polls past 50 in flight in one API process)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from service.redis import create_redis
from service.redis_cluster import SlotOwnerPool
from service.redis_pool import WaitingPool
from service.settings import Settings


async def test_more_callers_than_connections_wait_their_turn(redis_url: str, redis: Redis) -> None:
    client: Redis = create_redis(Settings(redis_url=redis_url), "pool-test", max_connections=2)
    try:
        # 12 blocking calls on 2 connections: each holds its connection for 0.1 s.
        results = await asyncio.gather(
            *(client.blpop(["{zapq}:pool-test:none"], timeout=0.1) for _ in range(12))  # type: ignore[arg-type,misc]
        )
        assert results == [None] * 12
        names = [c["name"] for c in await redis.client_list()]
        assert sum(name.startswith("zapq-pool-test-") for name in names) <= 2
    finally:
        await client.aclose()


async def test_a_caller_waits_at_most_the_timeout_and_says_why(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, redis_timeout_seconds=0.3)
    client: Redis = create_redis(settings, "pool-test", max_connections=1)
    pool = client.connection_pool
    try:
        held = await pool.get_connection()  # every connection of the pool in use
        with pytest.raises(RedisConnectionError, match=r"no Redis connection free within 0\.3 s"):
            await client.get("{zapq}:pool-test:key")
        await pool.release(held)
        assert await client.get("{zapq}:pool-test:key") is None, "usable again once released"
    finally:
        await client.aclose()


async def test_a_released_connection_goes_to_a_waiting_caller(redis_url: str) -> None:
    client: Redis = create_redis(Settings(redis_url=redis_url), "pool-test", max_connections=1)
    pool = client.connection_pool
    try:
        held = await pool.get_connection()
        waiting = asyncio.ensure_future(client.get("{zapq}:pool-test:key"))
        await asyncio.sleep(0.05)
        assert not waiting.done(), "it waits while the only connection is held"
        await pool.release(held)
        assert await asyncio.wait_for(waiting, 5) is None
    finally:
        await client.aclose()


def test_every_topology_waits() -> None:
    """Standalone, Sentinel and Cluster clients all get a waiting pool."""
    for url in ("redis://127.0.0.1:1/0", "redis+sentinel://127.0.0.1:1/m", "redis+cluster://h:1"):
        client = create_redis(Settings(redis_url=url), "pool-test")
        assert isinstance(client.connection_pool, WaitingPool), url
    assert issubclass(SlotOwnerPool, WaitingPool)
