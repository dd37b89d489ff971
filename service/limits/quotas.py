"""Per API key quotas, shared by every API pod through Redis (limits/quota.lua).

- Requests per second: a GCRA per key (the arithmetic of the senders' limit, gcra.lua); a request
  past it is refused with 429 and ``Retry-After`` before its body is read.
- Messages per day (the day in pool.time_zone): a counter per key and day. A request reserves its
  messages before they are enqueued, all or none (429 quota_exceeded), and gives back those that
  were not created (duplicates, refusals).
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from service.auth.keys import Principal
from service.errors import QuotaExceeded, RateLimited
from service.queue.models import now_ms
from service.queue.store import MessageQueue

# A day's counter outlives its day by one: clock skew between pods never resets it early.
_DAY_TTL_MS = 2 * 86_400_000


class Quotas:
    def __init__(self, queue: MessageQueue, time_zone: str, burst: int) -> None:
        self._queue = queue
        self._zone = ZoneInfo(time_zone)
        self._burst = burst

    async def request(self, principal: Principal) -> None:
        """Count one request of ``principal``; raises RateLimited past its rate."""
        rate = principal.requests_per_second
        if rate is None:
            return
        key = self._queue.keys.quota_rate(principal.name)
        result = await self._queue.scripts.quota_rate([now_ms(), rate, self._burst], rate=key)
        wait_ms = int(result["wait_ms"])
        if wait_ms > 0:
            seconds = max(math.ceil(wait_ms / 1000), 1)
            raise RateLimited(
                f"more than {rate:g} requests per second for this key", retry_after_seconds=seconds
            )

    async def reserve(self, principal: Principal, count: int) -> None:
        """Reserve ``count`` messages of today's quota; raises QuotaExceeded (nothing reserved)."""
        limit = principal.messages_per_day
        if limit is None or count <= 0:
            return
        result = await self._queue.scripts.quota_day(
            [count, limit, _DAY_TTL_MS], day=self._day(principal)
        )
        if not result["reserved"]:
            left = max(limit - int(result["used"]), 0)
            raise QuotaExceeded(
                f"this key may enqueue {limit} messages a day; {left} left today",
                retry_after_seconds=self._seconds_to_midnight(),
            )

    async def give_back(self, principal: Principal, count: int) -> None:
        """Return reserved messages that were not enqueued."""
        if principal.messages_per_day is None or count <= 0:
            return
        await self._queue.scripts.quota_day(
            [-count, principal.messages_per_day, _DAY_TTL_MS], day=self._day(principal)
        )

    def _day(self, principal: Principal) -> str:
        today = datetime.now(self._zone).date().isoformat()
        return self._queue.keys.quota_day(principal.name, today)

    def _seconds_to_midnight(self) -> int:
        now = datetime.now(self._zone)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() + 86_400
        return max(math.ceil(midnight - now.timestamp()), 1)
