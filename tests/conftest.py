"""Real servers for the tests: one redis-server per session on a free loopback port, flushed
per test. ZAPQ_TEST_REDIS_URL runs them on another Redis instead (a Sentinel group or a Redis
Cluster: tests/redis/test_cluster.py runs the core end-to-end tests that way)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from service.devstack import redis_server
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec, Settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(available: bool, what: str) -> None:
    """Skip locally when a tool is missing; in CI a missing tool fails, never a silent skip."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("ZAPQ_TEST_REDIS_URL"):
        yield os.environ["ZAPQ_TEST_REDIS_URL"]
        return
    with redis_server(Path(tmp_path_factory.mktemp("redis"))) as url:
        yield url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    # Made the way zapq makes its clients, so that a Sentinel or Cluster URL works too (on a
    # cluster every zapq key lives on the one node this client talks to: FLUSHDB empties it).
    client: Redis = create_redis(Settings(redis_url=redis_url), "test")
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def queue(redis: Redis, settings: Settings) -> MessageQueue:
    """A queue with one sender, ``s1``, fast enough that the limiter never holds a test back (the
    limiter has tests of its own)."""
    queue = MessageQueue(redis, settings)
    await SenderRegistry(queue).put(SenderSpec(name="s1", rate_per_second=1000, burst=1000))
    return queue


@pytest.fixture
def settings(redis_url: str) -> Settings:
    """Settings for in-process tests: real Redis, short retry delays, no jitter."""
    return Settings(
        redis_url=redis_url,
        api_keys=["test-key", "other-key"],
        evolution={"base_url": "http://127.0.0.1:9", "api_key": "evo-key", "instance": "zapq"},
        worker={"retry_delays_seconds": [0.2, 0.4, 0.6], "retry_jitter_ratio": 0},
    )


# Evolution API simulator fixtures (`sim_url`, `sim`) live in tests/sim_fixture.py.
pytest_plugins = ["tests.sim_fixture"]
