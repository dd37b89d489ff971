"""The body of a client callback, built when it is delivered from the small event the scripts
queued and what the message's record says then (Standard Webhooks' ``{type, timestamp, data}``).

``timestamp`` is when the change happened, not when it was delivered: with ``data.status``, it
lets a receiver order a message's events, which may arrive out of order (retries).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from service.logging import mask_phone
from service.queue.callbacks import CallbackEvent, CallbackType
from service.queue.models import Content

#: The events whose data names why the message ended where it did.
_WITH_ERROR = frozenset(
    {CallbackType.FAILED, CallbackType.DEAD, CallbackType.EXPIRED, CallbackType.CANCELLED}
)


def iso(ms: int) -> str:
    """Unix ms as ISO 8601 in UTC with milliseconds: 2026-03-02T12:00:00.123Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _text(raw: bytes | None) -> str | None:
    return raw.decode() if raw else None


def _message_data(
    event: CallbackEvent, record: dict[bytes, bytes | None], full_phones: bool
) -> dict[str, Any]:
    """A message event's data; ``record``: the fields CallbackQueue.messages read ({} when the
    record is gone: the event still says what happened)."""
    payload = record.get(b"payload")
    to = _text(record.get(b"to"))
    data: dict[str, Any] = {
        "id": event.message_id,
        "status": event.status,
        "to": (to if full_phones else mask_phone(to)) if to else None,
        "sender": _text(record.get(b"sender")),
        "provider_message_id": _text(record.get(b"provider_id")),
        "metadata": Content.decode(payload).metadata if payload else None,
    }
    if event.type in _WITH_ERROR:
        data["error_class"] = _text(record.get(b"error_class"))
        data["error"] = _text(record.get(b"last_error"))
    return data


def render(event: CallbackEvent, record: dict[bytes, bytes | None], full_phones: bool) -> str:
    """The exact text sent (and signed)."""
    if event.message_id:
        data = _message_data(event, record, full_phones)
    else:
        phone = event.phone if full_phones else mask_phone(event.phone)
        who = "from" if event.type is CallbackType.INBOUND_MESSAGE else "phone"
        data = {who: phone, **(event.data or {})}
    body = {"type": str(event.type), "timestamp": iso(event.at_ms), "data": data}
    return orjson.dumps(body).decode()
