"""The promoter: one worker of the installation moves due work; another takes over when its
lease is gone (its pod went). Two promoters in this process, as two workers would run them."""

from __future__ import annotations

import dataclasses

from redis.asyncio import Redis

from service.queue.models import NewMessage, Status, now_ms
from service.queue.store import MessageQueue
from service.redis import idle_block_seconds
from service.settings import Settings
from service.worker.context import WorkerDeps
from service.worker.promoter import Promoter
from tests.worker.conftest import eventually


def start(queue: MessageQueue, settings: Settings, worker_id: str) -> Promoter:
    deps = dataclasses.replace(WorkerDeps.build(settings, queue), worker_id=worker_id)
    return Promoter(deps, idle_block_seconds(settings.redis_timeout_seconds)).start()


async def promoted(queue: MessageQueue) -> None:
    """A message scheduled 0.2 s ahead becomes ready: someone promotes."""
    soon = NewMessage(to="5511987654321", text="oi", send_at_ms=now_ms() + 200)
    [result] = await queue.enqueue([soon], "k")

    async def ready() -> bool:
        record = await queue.get(result.message_id)
        return record is not None and record.status == Status.QUEUED

    await eventually(ready, timeout=15)


async def test_one_promotes_and_another_takes_over(
    queue: MessageQueue, settings: Settings, redis: Redis
) -> None:
    async def held_by(worker: bytes) -> bool:
        return bool(await redis.get(queue.keys.promoter) == worker)

    a = start(queue, settings, "a")
    b = None
    try:
        await eventually(lambda: held_by(b"a"))
        b = start(queue, settings, "b")
        await promoted(queue)
        assert await held_by(b"a"), "the follower left the leader's lease alone"
        await a.stop()
        await redis.delete(queue.keys.promoter)  # a's lease ran out: its pod went
        await eventually(lambda: held_by(b"b"))
        await promoted(queue)
    finally:
        await a.stop()
        if b is not None:
            await b.stop()
