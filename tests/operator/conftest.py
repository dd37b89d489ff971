"""Fixtures: `start_operator` runs `zapq operator` against kmock, the simulator and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import kmock
import pytest
from redis.asyncio import Redis

from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import Settings
from tests.operator.harness import declare, kubeconfig, operator_env, running_operator
from tests.sim_fixture import SimControl

Start = Callable[..., Awaitable[Path]]


@pytest.fixture
async def start_operator(
    kmock: kmock.KubernetesEmulator, redis_url: str, redis: Redis, sim: SimControl, tmp_path: Path
) -> AsyncIterator[Start]:
    """Start `zapq operator` (settings overridable as ZAPQ_* variables); its log file."""
    declare(kmock)
    async with AsyncExitStack() as stack:

        async def start(**env: str) -> Path:
            config = kubeconfig(tmp_path / "kubeconfig", str(kmock.url))
            log = tmp_path / "operator.log"
            await stack.enter_async_context(
                running_operator(operator_env(redis_url, sim.url, config, **env), log)
            )
            return log

        yield start


@pytest.fixture
def registry(redis: Redis, settings: Settings) -> SenderRegistry:
    return SenderRegistry(MessageQueue(redis, settings))
