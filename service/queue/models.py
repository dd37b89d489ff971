"""Plain data that crosses the queue boundary: what is enqueued, what a message record holds."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from service.queue.keys import Priority

Status = Literal["queued", "scheduled", "sending", "sent", "failed", "dead", "expired", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"sent", "failed", "dead", "expired", "cancelled"})

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_message_id(now_ms: int | None = None) -> str:
    """A ULID: 48-bit ms time + 80 random bits in Crockford base32: ids sort by creation time."""
    ms = now_ms if now_ms is not None else int(time.time() * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A validated message to enqueue. ``to`` is already normalised (E.164 digits, no "+")."""

    to: str
    text: str
    priority: Priority = "normal"
    send_at_ms: int | None = None
    #: None: the default validity (messages.default_validity_seconds) from when it becomes due.
    expires_at_ms: int | None = None
    idempotency_key: str | None = None
    metadata: dict[str, Any] | None = None
    #: Who enqueued it ("api", "scheduler"): recorded, and a metric label.
    source: str = "api"

    def fingerprint(self) -> str:
        """What makes two requests "the same" for an idempotency key: the request as given."""
        body = (
            self.to,
            self.text,
            self.priority,
            self.send_at_ms,
            self.expires_at_ms,
            self.metadata,
        )
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    #: "new": enqueued now; "duplicate": the idempotency key was seen with the same request, nothing
    #: enqueued; "conflict": the key was seen with a different request, nothing enqueued.
    outcome: Literal["new", "duplicate", "conflict"]
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
    idempotency_key: str | None
    source: str | None
    metadata: dict[str, Any] | None
    #: Every transition in order: {"status": ..., "at_ms": ..., plus attempt / error_class}.
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> MessageRecord:
        history = [
            {"status": entry[0], "at_ms": int(entry[1]), **(entry[2] if len(entry) > 2 else {})}
            for entry in orjson.loads(raw.get(b"history", b"[]"))
        ]
        metadata = raw.get(b"metadata")
        return cls(
            id=raw[b"id"].decode(),
            to=raw[b"to"].decode(),
            priority=raw[b"priority"].decode(),  # type: ignore[arg-type]
            status=raw[b"status"].decode(),  # type: ignore[arg-type]
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
            idempotency_key=_str(raw, "idempotency_key"),
            source=_str(raw, "source"),
            metadata=orjson.loads(metadata) if metadata else None,
            history=history,
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
