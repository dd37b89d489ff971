"""Per-process cap on how many jobs one worker takes per second (the pod's own 50 msg/s).

The rate promise on a WhatsApp number is per sender and shared by every pod
(service/limits/shared.py); this cap only bounds what one process takes on (its CPU, its
connections), so that a pod's share of the pool never exceeds what it was sized for. Non-blocking:
the worker asks for as many tokens as it has free slots, takes that many jobs at most, and gives
back what the queue could not fill.
"""

from __future__ import annotations

import math
import time


class TokenBucket:
    """``rate_per_second`` tokens a second, at most ``burst`` banked."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.rate = rate_per_second
        self.burst = float(burst)
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` whole tokens, now (possibly 0)."""
        self._refill()
        granted = min(wanted, math.floor(self._tokens))
        self._tokens -= granted
        return max(granted, 0)

    def give_back(self, count: int) -> None:
        """Return tokens taken but not used (the queue had fewer jobs)."""
        self._tokens = min(self.burst, self._tokens + count)

    def seconds_until_token(self) -> float:
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate)
