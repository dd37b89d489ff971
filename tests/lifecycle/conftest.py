"""The delivery lifecycle against the real Redis: a queue with one fast sender, messages taken to
``sent`` the way a worker records them, and a callback receiver on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from service.queue.callbacks import CallbackQueue
from service.queue.models import NewMessage, Outcome
from service.queue.receipts import Lifecycle
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec, Settings
from tests.lifecycle.receiver import Receiver
from tests.queue.conftest import take_one

HOOK = "http://127.0.0.1:9/hooks"


@pytest.fixture
async def queue(redis: Redis, settings: Settings) -> MessageQueue:
    queue = MessageQueue(redis, settings)
    await SenderRegistry(queue).put(SenderSpec(name="s1", rate_per_second=1000, burst=1000))
    return queue


@pytest.fixture
def lifecycle(queue: MessageQueue) -> Lifecycle:
    return Lifecycle(queue)


@pytest.fixture
def callbacks(queue: MessageQueue) -> CallbackQueue:
    return CallbackQueue(queue)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def sent_message(
    queue: MessageQueue, provider_id: str, *, to: str = "5511987654321", **kwargs: Any
) -> str:
    """Enqueue one message, take it and record it sent as Evolution's ``provider_id``."""
    kwargs.setdefault("callback_url", HOOK)
    [result] = await queue.enqueue([NewMessage(to=to, text="oi", **kwargs)], "k")
    claim = await take_one(queue, result.message_id)
    await queue.complete(claim, Outcome.SENT, provider_id=provider_id, remote_jid=f"{to}@s")
    return result.message_id
