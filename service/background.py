"""Periodic background loops that stop cleanly.

Loops are stopped with an event rather than by cancelling them: redis-py may swallow a
CancelledError
that lands mid-command, which would leave a cancelled loop running forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from service.redis import REDIS_ERRORS

log = logging.getLogger("zapq.background")

# How long stop() waits for a loop to notice before cancelling it: one Redis round trip is far less.
_STOP_TIMEOUT_SECONDS = 5.0


class Periodic:
    """Run ``step()`` every ``interval_seconds`` (at once again if it returns True) until stop()."""

    def __init__(
        self, name: str, step: Callable[[], Awaitable[bool | None]], interval_seconds: float
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Periodic:
        self._task = asyncio.create_task(self._run(), name=self.name)
        return self

    async def _run(self) -> None:
        while not self._stop.is_set():
            again = False
            try:
                again = bool(await self._step())
            except REDIS_ERRORS as exc:
                log.warning("redis unavailable", extra={"loop": self.name, "error": repr(exc)})
            if not again:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._interval)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), _STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            self._task.cancel()
