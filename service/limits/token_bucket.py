"""Per-process token bucket shared by all the jobs of one worker."""

from __future__ import annotations

import asyncio
import time

# A worker that sent nothing for this long is idle: its bank may refill up to the burst again.
IDLE_SECONDS = 1.0


class TokenBucket:
    """``rate_per_second`` sends per second; after an idle period up to ``burst`` go at once.

    Waiters queue on a FIFO lock and are served one at a time. The bank refills up to ``burst``
    only while the worker is idle (no send for IDLE_SECONDS); while it is busy it earns at most one
    token ahead, and a fraction left over by a late wake-up is dropped. So a busy worker never
    catches up in a bunch after Evolution or the event loop slowed it down: once the banked burst
    is spent its sends are at least 1/rate apart, never more than ``rate`` in any 1-second window
    (measured in docs/benchmarks.md).
    """

    def __init__(self, rate_per_second: float, burst: int) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = rate_per_second
        self.burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()
        self._last_send = float("-inf")
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        tokens = self._tokens + (now - self._updated) * self.rate
        if now - self._last_send < IDLE_SECONDS:
            # Busy: the bank refills only across idle gaps; a busy worker earns one token ahead.
            tokens = min(tokens, max(self._tokens, 1.0))
        self._tokens = min(self.burst, tokens)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token; returns the seconds spent waiting for it."""
        started = time.monotonic()
        async with self._lock:
            self._refill(time.monotonic())
            if self._tokens < 1:
                # Cancelled here, the caller took nothing: the lock is released, the bank intact.
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill(time.monotonic())
            self._tokens -= 1
            self._last_send = time.monotonic()
            if self._tokens < 1:
                # The bank is spent: drop the fraction that accrued through late wake-ups, so the
                # next send is a full 1/rate away from this one.
                self._tokens = 0.0
            return time.monotonic() - started
