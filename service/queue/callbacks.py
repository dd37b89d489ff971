"""Client callbacks as a reliable queue in Redis: the events, their leases, their dead letters.

An event is queued by the script that makes the state change it reports (lib.lua's finish for a
message's final status, receipt.lua for delivered and read, inbound.lua for replies and opt-outs),
so a change is never recorded without its event. It is small: type, message id (or phone), status,
time, URL; the dispatcher (service/callbacks/) builds the body when it delivers.

Events wait per endpoint (one URL): ``P:callbacks:endpoint:<sha1(url)[:16]>`` ordered by due time,
the endpoint in ``P:callbacks:ready`` at its earliest one. callback_claim.lua leases due events,
at most ``endpoint_concurrency`` in flight per endpoint across every worker process (counted in
``P:callbacks:busy``), so a slow receiver holds back only its own events. A lease that runs out (a
dispatcher died) gives the event back; callback_done.lua records each attempt: delivered (deleted),
retry (due again later) or dead (``P:callbacks:dead``, replayable). Key lifetimes: keys.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

from service.queue.models import Status, now_ms

if TYPE_CHECKING:
    from service.queue.store import MessageQueue

# Dead letters are replayed in chunks so that one request never blocks Redis for long.
_REPLAY_CHUNK = 500


class CallbackType(StrEnum):
    """The events of client callbacks (docs/callbacks.md); the scripts queue them."""

    SENT = "message.sent"
    DELIVERED = "message.delivered"
    READ = "message.read"
    FAILED = "message.failed"
    DEAD = "message.dead"
    EXPIRED = "message.expired"
    CANCELLED = "message.cancelled"
    INBOUND_MESSAGE = "inbound.message"
    RECIPIENT_OPTED_OUT = "recipient.opted_out"


#: The callback a message's status reports (``acknowledged`` reports none: it says little).
CALLBACK_OF_STATUS: dict[Status, CallbackType] = {
    Status.SENT: CallbackType.SENT,
    Status.DELIVERED: CallbackType.DELIVERED,
    Status.READ: CallbackType.READ,
    Status.FAILED: CallbackType.FAILED,
    Status.DEAD: CallbackType.DEAD,
    Status.EXPIRED: CallbackType.EXPIRED,
    Status.CANCELLED: CallbackType.CANCELLED,
}


class Attempt(StrEnum):
    """What one delivery attempt ends in (callback_done.lua records it)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """A leased event: deliver it, then record the attempt with CallbackQueue.done."""

    id: str
    type: CallbackType
    url: str
    #: The message it reports ("" for inbound.message and recipient.opted_out).
    message_id: str
    #: The message's status it reports ("" for the others).
    status: str
    #: The customer's number (inbound.message, recipient.opted_out; "" for the others).
    phone: str
    #: When the change happened (unix ms): receivers order a message's events by it.
    at_ms: int
    #: What the event carries besides (inbound text, how someone opted out); None for none.
    data: dict[str, Any] | None
    #: This attempt's number, from 1.
    attempt: int


@dataclass(frozen=True, slots=True)
class Claimed:
    events: list[CallbackEvent]
    #: When the next event is due or a lease runs out (unix ms); None: nothing waits.
    next_at_ms: int | None
    dead_letters: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class DeadCallback:
    id: str
    type: str
    url: str
    message_id: str | None
    phone: str | None
    status: str | None
    at_ms: int
    attempts: int
    last_error: str | None
    dead_at_ms: int | None


def _event(row: dict[str, Any]) -> CallbackEvent:
    data = row.get("data")
    return CallbackEvent(
        id=row["id"],
        type=CallbackType(row["type"]),
        url=row["url"],
        message_id=row.get("message") or "",
        status=row.get("status") or "",
        phone=row.get("phone") or "",
        at_ms=int(row["at"]),
        data=orjson.loads(data) if data else None,
        attempt=int(row["attempts"]),
    )


def _text(raw: dict[bytes, bytes], name: str) -> str | None:
    value = raw.get(name.encode())
    return value.decode() if value else None


def _dead(raw: dict[bytes, bytes]) -> DeadCallback:
    dead_at = raw.get(b"dead_at")
    return DeadCallback(
        id=raw[b"id"].decode(),
        type=raw[b"type"].decode(),
        url=raw[b"url"].decode(),
        message_id=_text(raw, "message"),
        phone=_text(raw, "phone"),
        status=_text(raw, "status"),
        at_ms=int(raw[b"at"]),
        attempts=int(raw.get(b"attempts", b"0")),
        last_error=_text(raw, "last_error"),
        dead_at_ms=int(dead_at) if dead_at else None,
    )


class CallbackQueue:
    def __init__(self, queue: MessageQueue) -> None:
        self.redis = queue.redis
        self.keys = queue.keys
        self.scripts = queue.scripts
        self._dead_retention_ms = queue.settings.messages.dead_letter_retention_seconds * 1000

    async def claim(self, count: int, lease_ms: int, endpoint_cap: int) -> Claimed:
        """Lease up to ``count`` due events, at most ``endpoint_cap`` in flight per endpoint."""
        result = await self.scripts.callback_claim([now_ms(), count, lease_ms, endpoint_cap])
        rows = result["events"] if isinstance(result["events"], list) else []
        next_at = result.get("next_at")
        return Claimed(
            events=[_event(row) for row in rows],
            next_at_ms=int(next_at) if next_at is not None else None,
            dead_letters=int(result["dead"]),
            in_flight=int(result["leased"]),
        )

    async def done(
        self, event: CallbackEvent, outcome: Attempt, *, next_at_ms: int = 0, error: str = ""
    ) -> bool:
        """Record an attempt; False when its lease had run out and the event is another
        dispatcher's now."""
        args = [
            event.id,
            event.attempt,
            now_ms(),
            str(outcome),
            next_at_ms,
            error,
            self._dead_retention_ms,
        ]
        return bool((await self.scripts.callback_done(args))["recorded"])

    async def messages(self, message_ids: Sequence[str]) -> list[dict[bytes, bytes | None]]:
        """What a callback body says of each message (one pipelined round trip): to, sender,
        provider_id, payload, error_class, last_error; empty for ids whose record is gone."""
        fields = ["to", "sender", "provider_id", "payload", "error_class", "last_error"]
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.hmget(self.keys.message(message_id), fields)
            rows = await pipe.execute()
        return [
            dict(zip([f.encode() for f in fields], row, strict=True)) if row[0] else {}
            for row in rows
        ]

    async def dead_letters(
        self, *, offset: int = 0, limit: int = 100
    ) -> tuple[int, list[DeadCallback]]:
        """Newest first. Returns (total, the page of DeadCallback)."""
        total = await self.redis.zcard(self.keys.callbacks_dead)
        ids = await self.redis.zrevrange(self.keys.callbacks_dead, offset, offset + limit - 1)
        async with self.redis.pipeline(transaction=False) as pipe:
            for raw in ids:
                pipe.hgetall(self.keys.callback(raw.decode()))
            rows = await pipe.execute()
        return total, [_dead(row) for row in rows if row]

    async def get(self, event_id: str) -> DeadCallback | None:
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.callback(event_id))  # type: ignore[misc]
        return _dead(raw) if raw else None

    async def replay(self, event_ids: Sequence[str]) -> list[str]:
        """Deliver dead letters again: attempts start over, due now."""
        replayed: list[str] = []
        for start in range(0, len(event_ids), _REPLAY_CHUNK):
            chunk = list(event_ids[start : start + _REPLAY_CHUNK])
            result = await self.scripts.callback_replay([now_ms(), *chunk])
            replayed += result["replayed"] if isinstance(result["replayed"], list) else []
        return replayed

    async def replay_all(self) -> list[str]:
        ids = [raw.decode() for raw in await self.redis.zrange(self.keys.callbacks_dead, 0, -1)]
        return await self.replay(ids)
