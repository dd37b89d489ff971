"""Per-process token bucket shared by all the jobs of one worker."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``rate_per_second`` tokens per second, at most ``burst`` banked.

    acquire() reserves the next token and sleeps until it is due, so waiters are served in arrival
    order and sends are spaced 1/rate apart once the bank is empty: no thundering herd of sleepers
    polling for a token, and never more than burst + rate x t sends in any window of t seconds.
    """

    def __init__(self, rate_per_second: float, burst: int) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = rate_per_second
        self.burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> float:
        """Take one token; returns the seconds spent waiting for it."""
        now = time.monotonic()
        self._refill(now)
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        # A negative bank is a queue of reservations: this caller's token arrives after the others'.
        wait = -self._tokens / self.rate
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            self._tokens += 1  # give the reservation back: this caller will not send
            raise
        return wait
