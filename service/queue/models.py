"""Plain data that crosses the queue boundary: what is enqueued, what a message record holds.

A record has two parts: the fields the Lua scripts route and decide on (id, recipient, priority,
status, times, attempts, sender) and one opaque ``payload`` that Python encodes and decodes (what
to send: kind, text, media; and what is only returned: metadata, source, idempotency key).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson

from service.queue.keys import Priority


class Status(StrEnum):
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    #: After the send, from Evolution's receipts (messages.update): the WhatsApp server has it,
    #: the phone has it, the person opened it.
    ACKNOWLEDGED = "acknowledged"
    DELIVERED = "delivered"
    READ = "read"


#: Nothing sends a message in one of these again: every status after the send, a delivered or
#: read message included, and every way a message ends unsent.
FINAL_STATUSES: frozenset[Status] = frozenset(Status) - {
    Status.QUEUED,
    Status.SCHEDULED,
    Status.SENDING,
}

#: The order of a sent message's receipts: a receipt moves the status only forward (READ may
#: come before DELIVERY_ACK; the late DELIVERY_ACK then changes nothing). receipt.lua gets it as
#: the header's RANK table; ``failed`` after a send (Evolution's ERROR) is allowed below READ.
RECEIPT_RANK: dict[Status, int] = {
    Status.SENT: 1,
    Status.ACKNOWLEDGED: 2,
    Status.DELIVERED: 3,
    Status.READ: 4,
}


class Outcome(StrEnum):
    """What one attempt ends in (complete.lua records it)."""

    SENT = "sent"
    FAILED = "failed"
    RETRY = "retry"
    DEAD = "dead"
    EXPIRED = "expired"
    #: Not an attempt of the message's own: its sender refused (complete.lua decides, see there).
    REROUTED = "rerouted"


class Breaker(StrEnum):
    """A sender's circuit breaker (take.lua and complete.lua move it; docs in senders.lua)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Connection(StrEnum):
    """A sender's WhatsApp session as Evolution reports it (connection.update, connectionState)."""

    OPEN = "open"
    CONNECTING = "connecting"
    CLOSE = "close"


class Unavailable(StrEnum):
    """Why a sender cannot take a message now."""

    UNKNOWN = "unknown"
    PAUSED = "paused"
    DISCONNECTED = "disconnected"
    BREAKER_OPEN = "breaker_open"
    DAILY_LIMIT = "daily_limit"
    #: Healthy, but its rate allows no send within the reservation horizon.
    BUSY = "busy"


class Kind(StrEnum):
    TEXT = "text"
    MEDIA = "media"


class MediaType(StrEnum):
    IMAGE = "image"
    DOCUMENT = "document"
    VIDEO = "video"
    AUDIO = "audio"


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every 10-bit value as its two Crockford digits: a ULID is 13 lookups instead of 26 divisions
# (ids are made per message, and a batch makes 1,000).
_PAIRS = [a + b for a in CROCKFORD for b in CROCKFORD]


def _digits(value: int, pairs: int) -> str:
    return "".join(_PAIRS[(value >> shift) & 1023] for shift in range(10 * pairs - 10, -10, -10))


def _random_digits(value: int) -> str:
    """The 16 digits of an 80-bit value: _digits(value, 8), spelled out (no generator per id)."""
    p = _PAIRS
    return (
        p[value >> 70]
        + p[(value >> 60) & 1023]
        + p[(value >> 50) & 1023]
        + p[(value >> 40) & 1023]
        + p[(value >> 30) & 1023]
        + p[(value >> 20) & 1023]
        + p[(value >> 10) & 1023]
        + p[value & 1023]
    )


#: Every message id (new_message_id): what the API accepts in a path.
MESSAGE_ID_PATTERN = f"^[{CROCKFORD}]{{26}}$"


def new_message_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit ms time (10 digits) + 80 random bits (16 digits) in Crockford base32: ids
    sort by creation time."""
    return new_message_ids(1, now_ms)[0]


def new_message_ids(count: int, now_ms: int | None = None) -> list[str]:
    """``count`` ULIDs of the same ms (new_message_id): its digits written once, one read of the
    random source."""
    ms = now_ms if now_ms is not None else int(time.time() * 1000)
    head = _digits(ms, 5)
    noise = os.urandom(10 * count)
    return [
        head + _random_digits(int.from_bytes(noise[start : start + 10], "big"))
        for start in range(0, 10 * count, 10)
    ]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Media:
    """An attachment: ``media`` is an https URL (Evolution fetches it when it sends) or raw
    base64 (no ``data:`` prefix)."""

    mediatype: MediaType
    media: str
    mimetype: str | None = None
    file_name: str | None = None

    @property
    def is_url(self) -> bool:
        return self.media.startswith("https://")

    def as_dict(self) -> dict[str, Any]:
        return {
            "mediatype": str(self.mediatype),
            "media": self.media,
            "mimetype": self.mimetype,
            "file_name": self.file_name,
        }

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Media:
        return cls(MediaType(raw["mediatype"]), raw["media"], raw["mimetype"], raw["file_name"])


@dataclass(frozen=True, slots=True)
class Content:
    """The payload: what to send and what is only stored and returned. Lua never reads it."""

    kind: Kind = Kind.TEXT
    #: The text of a text message; the caption of a media message ("" for none).
    text: str = ""
    media: Media | None = None
    metadata: dict[str, Any] | None = None
    #: Who enqueued it ("api", "scheduler"): recorded, and a metric label.
    source: str = "api"
    idempotency_key: str | None = None

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "kind": str(self.kind),
                "text": self.text,
                "media": self.media.as_dict() if self.media else None,
                "metadata": self.metadata,
                "source": self.source,
                "idempotency_key": self.idempotency_key,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | str) -> Content:
        data = orjson.loads(raw)
        media = data.get("media")
        return cls(
            kind=Kind(data["kind"]),
            text=data["text"],
            media=Media.of(media) if media else None,
            metadata=data.get("metadata"),
            source=data.get("source") or "api",
            idempotency_key=data.get("idempotency_key"),
        )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated message to enqueue. ``to`` is already normalised (E.164 digits, no "+")."""

    to: str
    text: str = ""
    priority: Priority = Priority.NORMAL
    send_at_ms: int | None = None
    #: None: the default validity (messages.default_validity_seconds) from when it becomes due.
    expires_at_ms: int | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] | None = None
    source: str = "api"
    kind: Kind = Kind.TEXT
    media: Media | None = None
    #: Pins the message to one sender (by name); None lets the pool route it.
    sender: str | None = None
    #: Where its client callbacks go (None: the API key's default endpoint, if any).
    callback_url: str | None = None

    @property
    def content(self) -> Content:
        return Content(
            self.kind, self.text, self.media, self.metadata, self.source, self.idempotency_key
        )

    def fingerprint(self) -> str:
        """What makes two requests "the same" for an idempotency key: the request as given."""
        body: tuple[Any, ...] = (
            self.to,
            self.text,
            str(self.priority),
            self.send_at_ms,
            self.expires_at_ms,
            self.metadata,
            str(self.kind),
            self.media.as_dict() if self.media else None,
            self.sender,
        )
        if self.callback_url is not None:  # appended only when given: older keys still match
            body = (*body, self.callback_url)
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    #: "new": enqueued now; "duplicate": the idempotency key was seen with the same request, nothing
    #: enqueued; "conflict": the key was seen with a different request, nothing enqueued;
    #: "unknown_sender": pinned to a sender the pool does not have, nothing enqueued;
    #: "opted_out": the recipient is on the suppression list, nothing enqueued.
    outcome: Literal["new", "duplicate", "conflict", "unknown_sender", "opted_out"]
    message_id: str
    #: The record as written, for "new" results (None otherwise: read it with MessageQueue.get).
    record: MessageRecord | None = None


def _ms(raw: dict[bytes, bytes], name: str) -> int | None:
    value = raw.get(name.encode())
    return int(value) if value else None


def _str(raw: dict[bytes, bytes], name: str) -> str | None:
    value = raw.get(name.encode())
    return value.decode() if value else None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    to: str
    priority: Priority
    status: Status
    attempts: int
    created_at_ms: int
    expires_at_ms: int
    ready_at_ms: int | None
    send_at_ms: int | None
    next_attempt_at_ms: int | None
    provider_id: str | None
    remote_jid: str | None
    last_error: str | None
    error_class: str | None
    content: Content
    #: The sender the message is pinned to (None: routed by the pool).
    pinned_sender: str | None = None
    #: The sender of the last attempt.
    sender: str | None = None
    #: Every transition in order: {"status": ..., "at_ms": ..., plus attempt / error_class}.
    history: list[dict[str, Any]] = field(default_factory=list)
    #: From Evolution's receipts (READ without a DELIVERY_ACK before it implies delivery then).
    delivered_at_ms: int | None = None
    read_at_ms: int | None = None
    callback_url: str | None = None
    #: The tenant that created it (the API key's name; "" for records without one).
    key_id: str = ""

    @property
    def idempotency_key(self) -> str | None:
        return self.content.idempotency_key

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self.content.metadata

    @property
    def source(self) -> str:
        return self.content.source

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> MessageRecord:
        history = [
            {"status": entry[0], "at_ms": int(entry[1]), **(entry[2] if len(entry) > 2 else {})}
            for entry in orjson.loads(raw.get(b"history", b"[]"))
        ]
        return cls(
            id=raw[b"id"].decode(),
            to=raw[b"to"].decode(),
            priority=Priority(raw[b"priority"].decode()),
            status=Status(raw[b"status"].decode()),
            attempts=int(raw.get(b"attempts", b"0")),
            created_at_ms=int(raw[b"created_at"]),
            expires_at_ms=int(raw[b"expires_at"]),
            ready_at_ms=_ms(raw, "ready_at"),
            send_at_ms=_ms(raw, "send_at"),
            next_attempt_at_ms=_ms(raw, "next_attempt_at"),
            provider_id=_str(raw, "provider_id"),
            remote_jid=_str(raw, "remote_jid"),
            last_error=_str(raw, "last_error"),
            error_class=_str(raw, "error_class"),
            content=Content.decode(raw[b"payload"]),
            pinned_sender=_str(raw, "pin"),
            sender=_str(raw, "sender"),
            history=history,
            delivered_at_ms=_ms(raw, "delivered_at"),
            read_at_ms=_ms(raw, "read_at"),
            callback_url=_str(raw, "callback_url"),
            key_id=_str(raw, "key_id") or "",
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    ready: dict[str, int]
    oldest_ready_age_seconds: dict[str, float]
    in_flight: int
    scheduled: int
    retrying: int
    dead_letters: int

    @property
    def ready_total(self) -> int:
        return sum(self.ready.values())
