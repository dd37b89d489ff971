"""After the send: Evolution's receipts, customers' replies and the suppression list (opt-outs).

Each webhook event is one script call (receipt.lua, inbound.lua), which also queues the client
callbacks the change reports (service/queue/callbacks.py). The suppression list is one sorted set
(phone -> when, unix ms: paged newest first) and a hash of how each number got there; enqueue.lua
refuses a suppressed recipient and take.lua cancels one queued before the opt-out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from service.queue.models import Status, new_message_id, now_ms
from service.queue.store import MessageQueue

ReceiptOutcome = Literal["applied", "duplicate", "stale", "unknown"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """One receipt: Evolution's key.id of the sent message and the status it reports."""

    provider_id: str
    status: Status
    #: Evolution's error text for a failed (ERROR) receipt.
    error: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    outcome: ReceiptOutcome
    message_id: str | None = None
    #: The message's status after the receipt.
    status: str | None = None
    #: When it was sent (unix ms), for the sent -> delivered / read histograms.
    sent_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Suppression:
    phone: str
    at_ms: int
    #: "keyword" (the customer wrote one) or "api".
    source: str
    #: The keyword as the customer wrote it (source keyword).
    keyword: str | None = None


@dataclass(frozen=True, slots=True)
class InboundResult:
    #: True when this put the number on the suppression list (it was not on it).
    suppressed: bool
    #: Callbacks queued (recipient.opted_out, inbound.message).
    events: int


def _suppression(phone: str, at_ms: float, raw: bytes | None) -> Suppression:
    how = orjson.loads(raw) if raw else {}
    return Suppression(phone, int(at_ms), how.get("source", "api"), how.get("keyword"))


class Lifecycle:
    def __init__(self, queue: MessageQueue) -> None:
        self.redis = queue.redis
        self.keys = queue.keys
        self.scripts = queue.scripts

    async def receipts(self, receipts: Sequence[Receipt]) -> list[ReceiptResult]:
        """Apply one webhook's receipts in one atomic round trip (receipt.lua)."""
        if not receipts:
            return []
        args: list[Any] = [now_ms()]
        for receipt in receipts:
            args += [receipt.provider_id, str(receipt.status), receipt.error]
        rows = (await self.scripts.receipt(args))["results"]
        return [
            ReceiptResult(row["outcome"], row.get("id"), row.get("status"), row.get("sent_at"))
            for row in rows
        ]

    async def inbound(
        self,
        phone: str,
        *,
        url: str,
        opt_out: dict[str, str] | None = None,
        forward: dict[str, Any] | None = None,
    ) -> InboundResult:
        """A customer's message from ``phone``: ``opt_out`` ({source, keyword?}) puts the number
        on the suppression list, ``forward`` is the inbound.message event's data; their events
        go to ``url`` ("" for none). One atomic round trip (inbound.lua)."""
        args = [
            now_ms(),
            phone,
            int(opt_out is not None),
            orjson.dumps(opt_out or {}),
            new_message_id(),
            url,
            orjson.dumps(forward) if forward is not None else "",
        ]
        result = await self.scripts.inbound(args)
        return InboundResult(bool(result["suppressed"]), int(result["events"]))

    async def suppress(self, phone: str, url: str) -> bool:
        """Put ``phone`` on the suppression list (through the API); False if it was already."""
        return (await self.inbound(phone, url=url, opt_out={"source": "api"})).suppressed

    async def unsuppress(self, phone: str) -> bool:
        """Take ``phone`` off the suppression list; False if it was not on it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.keys.suppressed, phone)
            pipe.hdel(self.keys.suppressed_info, phone)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def suppression(self, phone: str) -> Suppression | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zscore(self.keys.suppressed, phone)
            pipe.hget(self.keys.suppressed_info, phone)
            at, how = await pipe.execute()
        return None if at is None else _suppression(phone, at, how)

    async def suppressions(
        self, *, offset: int = 0, limit: int = 100
    ) -> tuple[int, list[Suppression]]:
        """Newest first. Returns (how many numbers are on the list, the page of Suppression)."""
        total = await self.redis.zcard(self.keys.suppressed)
        page = await self.redis.zrevrange(
            self.keys.suppressed, offset, offset + limit - 1, withscores=True
        )
        phones = [raw.decode() for raw, _ in page]
        hows = await self.redis.hmget(self.keys.suppressed_info, phones) if phones else []  # type: ignore[misc]
        return total, [
            _suppression(phone, at, how)
            for phone, (_, at), how in zip(phones, page, hows, strict=True)
        ]
