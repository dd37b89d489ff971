"""Backpressure: refuse new messages before Redis is full, while workers go on draining.

Two limits, read from Redis at most every READING_TTL_SECONDS (ZCARD of the ready queue and INFO
memory), so a request costs nothing extra between readings:
- api.max_ready_messages: the ready backlog (0: none);
- api.max_redis_memory_ratio: the share of Redis's maxmemory in use (ignored without maxmemory);
  past maxmemory itself the answer is 503 storage_full, as when Redis refuses the write.

Past either, the API answers 503 queue_full (a batch is refused whole: nothing of it is enqueued,
and the same request may be sent again) and the scheduler waits. The limits are soft: requests
admitted between two readings, or at once by several API pods, may pass them by a few batches;
the memory ratio leaves room for that below the hard wall (maxmemory, where Redis itself refuses:
503 storage_full).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from service import metrics
from service.errors import QueueFull, StorageFull
from service.queue.store import MessageQueue
from service.redis import Memory, memory

#: How long one reading is trusted (seconds): the admission of ~1 s of traffic at most goes by on a
#: stale reading, and a busy API pod costs Redis two cheap commands a second.
READING_TTL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Reading:
    ready: int
    memory: Memory
    at: float

    def refusal(self, incoming: int, max_ready: int, max_memory_ratio: float) -> str | None:
        """Why ``incoming`` more messages are refused now (a reason label), or None. A request
        that would take the backlog past max_ready is refused, unless nothing is ready: a batch
        larger than the limit still goes into an empty queue."""
        ratio = self.memory.used_ratio
        if ratio is not None and ratio >= 1:
            return "redis_full"
        if ratio is not None and ratio >= max_memory_ratio:
            return "redis_memory"
        if max_ready and self.ready and self.ready + incoming > max_ready:
            return "ready_backlog"
        return None


class Backpressure:
    def __init__(self, queue: MessageQueue) -> None:
        self.queue = queue
        self.max_ready = queue.settings.api.max_ready_messages
        self.max_memory_ratio = queue.settings.api.max_redis_memory_ratio
        #: How long a reading is trusted (seconds).
        self.reading_ttl_seconds = READING_TTL_SECONDS
        self._reading: Reading | None = None
        self._lock = asyncio.Lock()

    def _current(self) -> Reading | None:
        """The latest reading while it is trusted (younger than reading_ttl_seconds)."""
        reading = self._reading
        if reading is not None and time.monotonic() - reading.at <= self.reading_ttl_seconds:
            return reading
        return None

    async def reading(self) -> Reading:
        """The latest reading, read again (by one request at a time) once it is stale; a fresh
        one is answered without taking the lock."""
        reading = self._current()
        if reading is not None:
            return reading
        async with self._lock:
            reading = self._current()
            if reading is None:
                reading = self._reading = await self._read()
            return reading

    async def _read(self) -> Reading:
        ready = await self.queue.redis.zcard(self.queue.keys.queue)
        return Reading(ready, await memory(self.queue.redis), time.monotonic())

    async def refusal(self, incoming: int) -> str | None:
        reading = await self.reading()
        return reading.refusal(incoming, self.max_ready, self.max_memory_ratio)

    async def admit(self, incoming: int) -> None:
        """Raise QueueFull when ``incoming`` new messages would pass a limit, StorageFull when
        Redis is past its maxmemory (the API: they count as rejected; the scheduler waits on
        ``refusal`` instead)."""
        reason = await self.refusal(incoming)
        if reason == "redis_full":
            metrics.REJECTED.labels("storage_full").inc(incoming)
            raise StorageFull(STORAGE_FULL)
        if reason is not None:
            metrics.REJECTED.labels("queue_full").inc(incoming)
            raise QueueFull(_DETAIL[reason], reason=reason)


STORAGE_FULL = "the queue's storage (Redis) is full; nothing was written, retry later"
_DETAIL = {
    "ready_backlog": "the queue's ready backlog is at its limit; nothing was enqueued, retry later",
    "redis_memory": "the queue's storage is close to its memory limit; nothing was enqueued, "
    "retry later",
}
