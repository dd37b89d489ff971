"""Per-process token bucket shared by all the jobs of one worker."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``rate_per_second`` tokens per second, at most ``burst`` banked while the worker is idle.

    Waiters queue on a FIFO lock and are served one at a time. Tokens bank up only while nobody
    waits: once the bank is empty, each waiter takes the token that accrued during its own wait and
    nothing more, so an event loop that wakes a waiter late cannot make the next ones catch up in a
    bunch. Under a backlog, sends are therefore spaced at least 1/rate apart: never more than
    ``rate`` in any 1-second window once the banked burst is spent (docs/benchmarks.md).
    """

    def __init__(self, rate_per_second: float, burst: int) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = rate_per_second
        self.burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token; returns the seconds spent waiting for it."""
        started = time.monotonic()
        async with self._lock:
            now = time.monotonic()
            self._refill(now)
            if self._tokens >= 1:
                self._tokens -= 1
                return now - started
            # Cancelled here, the caller consumed nothing: the lock is released, the bank untouched.
            await asyncio.sleep((1 - self._tokens) / self.rate)
            # Whatever accrued beyond this one token (a late wake-up) is not banked.
            self._tokens = 0.0
            self._updated = time.monotonic()
            return self._updated - started
