"""A MessageQueue on the test Redis with one fast sender, and helpers to read the queue."""

from __future__ import annotations

from typing import Any

from service.queue.models import NewMessage, now_ms
from service.queue.store import Claim, MessageQueue

#: The pool view take.lua and promote.lua get: (sender, its local date).
POOL = [("s1", "2026-01-01")]


def msg(text: str = "oi", **kwargs: Any) -> NewMessage:
    return NewMessage(to="5511987654321", text=text, **kwargs)


async def head(queue: MessageQueue, n: int) -> list[str]:
    """The ready queue in take order: ZRANGEBYSCORE -inf now."""
    ids = await queue.redis.zrangebyscore(queue.keys.queue, "-inf", now_ms(), start=0, num=n)
    return [queue.keys.message_id_of(raw.decode()) for raw in ids]


async def take_one(queue: MessageQueue, message_id: str) -> Claim:
    """What a worker does: take the job (take.lua routes it and claims its message)."""
    [claim] = (await queue.take(1, 30, "test-worker", POOL)).claims
    assert claim.message_id == message_id
    return claim
