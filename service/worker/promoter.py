"""The promoter: one worker of the installation moves due work to the ready queue, and sleeps in
between.

Every worker runs this loop, but promote.lua lets only the holder of the promoter's lease
(P:promoter) work; the others look again every few seconds, so that one takes over within a
lease when the promoter's pod goes. The promoter sleeps until the next thing it knows is due (a
scheduled message, a retry, a lost job's lock deadline, a breaker's reopening), or until
enqueue.lua or complete.lua push a token on P:wake:promote (something new became due sooner): an
idle installation costs Redis a command or two every few seconds, not ten promotions a second
per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random

from service.queue.models import now_ms
from service.redis import REDIS_ERRORS
from service.worker.context import WorkerDeps

log = logging.getLogger("zapq.worker")

# How many due items one promotion moves: a bounded script keeps Redis responsive; a full batch
# means more are due and the promoter goes again at once.
_BATCH = 1000
# The promoter's lease: a promoter that died is replaced within this (plus a follower's look).
LEASE_SECONDS = 10.0
# Longest sleep, for the promoter (it renews its lease) and for followers (they look for a lease
# to take over): well inside the lease.
_MAX_SLEEP_SECONDS = 4.0


class Promoter:
    def __init__(self, deps: WorkerDeps, block_seconds: float) -> None:
        self.deps = deps
        #: A blocking wait must end before the Redis client's socket timeout.
        self._block = min(_MAX_SLEEP_SECONDS, block_seconds)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Promoter:
        self._task = asyncio.create_task(self._run(), name="promoter")
        return self

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._step()
            except REDIS_ERRORS as exc:
                log.warning("redis unavailable", extra={"loop": "promoter", "error": repr(exc)})
                await self._sleep(1.0)

    async def _step(self) -> None:
        deps = self.deps
        if await self._held_by_another():
            await self._sleep(_MAX_SLEEP_SECONDS * random.uniform(0.8, 1.2))
            return
        done = await deps.queue.promote_due(
            deps.pool.routing(), _BATCH, worker=deps.worker_id, lease_seconds=LEASE_SECONDS
        )
        if not done.leader:  # taken by another in between: look again later, spread out
            await self._sleep(_MAX_SLEEP_SECONDS * random.uniform(0.8, 1.2))
        elif done.moved < _BATCH:
            await self._until(done.next_at_ms)

    async def _held_by_another(self) -> bool:
        """A follower's look at the lease: one GET instead of a script call (promote.lua checks
        the lease again itself, so a lease that lapses in between is simply taken next time)."""
        holder = await self.deps.redis.get(self.deps.queue.keys.promoter)
        return holder is not None and holder.decode() != self.deps.worker_id

    async def _until(self, at_ms: int | None) -> None:
        """Block on the promoter's wake list until ``at_ms`` (or the longest sleep)."""
        seconds = self._block if at_ms is None else (at_ms - now_ms()) / 1000
        seconds = min(max(seconds, 0.0), self._block)
        if seconds < 0.01:
            return
        # Redis takes a fractional timeout (>= 6.0); redis-py's stubs say int.
        await self.deps.redis.blpop([self.deps.queue.keys.promote_wake], timeout=seconds)  # type: ignore[arg-type,misc]

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
