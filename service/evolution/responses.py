"""Reading Evolution's answers: the 201 of sendText and the error classification (contract
sections 3 and 4).

Pure functions of (status, parsed body), so every branch is testable without a server.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from service.evolution.errors import (
    EvolutionError,
    EvolutionInstanceNotFound,
    EvolutionInstanceUnavailable,
    EvolutionInvalidRecipient,
    EvolutionRejected,
    EvolutionServerError,
    EvolutionUnauthorized,
    EvolutionUnexpectedResponse,
)
from service.evolution.schemas import SentMessage

# An error text is stored and logged: a phone number in it (a WhatsApp error naming a JID, say) is
# cut to its last 4 digits. 8+ digits covers every national number and no status code.
_LONG_DIGITS = re.compile(r"\d{4,}(\d{4})")
# Error texts are kept short: they land in Redis with every failed attempt.
_MAX_DETAIL_CHARS = 300


def error_messages(data: Any) -> list[Any]:
    """``response.message`` of the envelope (``message`` of whatsappNumbers' raw 400), as a list:
    a string (401, 500) becomes a one-item list."""
    if not isinstance(data, dict):
        return []
    inner = data.get("response")
    raw = inner.get("message") if isinstance(inner, dict) else data.get("message")
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


def _describe(status: int, messages: list[Any]) -> str:
    """``HTTP 400: a; b``: strings kept (digits masked), objects reduced to their type."""
    parts = [
        _LONG_DIGITS.sub(r"…\1", item) if isinstance(item, str) else type(item).__name__
        for item in messages
    ]
    return f"HTTP {status}: {'; '.join(parts) or 'no message'}"[:_MAX_DETAIL_CHARS]


def classify(status: int, data: Any) -> EvolutionError:
    """The EvolutionError for any answer but a sendText 201 (section 4)."""
    messages = error_messages(data)
    detail = _describe(status, messages)
    if status == 400:
        if any(isinstance(m, dict) and m.get("exists") is False for m in messages):
            # The lookup object holds the number: the message names no field of it.
            return EvolutionInvalidRecipient("HTTP 400: number is not on WhatsApp", status_code=400)
        if any(isinstance(m, str) and m.startswith("Error:") for m in messages):
            return EvolutionInstanceUnavailable(detail, status_code=400)
        return EvolutionRejected(detail, status_code=400)
    if status == 401:
        return EvolutionUnauthorized(f"{detail} (check ZAPQ_EVOLUTION__API_KEY)", status_code=401)
    if status == 404:
        return EvolutionInstanceNotFound(
            f"{detail} (check ZAPQ_EVOLUTION__INSTANCE)", status_code=404
        )
    if status >= 500:
        return EvolutionServerError(detail, status_code=status)
    return EvolutionUnexpectedResponse(detail, status_code=status)


def parse_sent(data: Any) -> SentMessage:
    """The 201 body: ``key.id`` is required; ``messageTimestamp`` may be an int (v2) or a numeric
    string (v1), and is 0 when absent; ``status`` is any string ("PENDING" when absent)."""
    key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(key, dict) or not _text(key.get("id")):
        raise EvolutionUnexpectedResponse("HTTP 201 without key.id", status_code=201)
    remote_jid = key.get("remoteJid")
    status = data.get("status")
    return SentMessage(
        provider_id=key["id"],
        remote_jid=remote_jid if isinstance(remote_jid, str) else "",
        status=status if _text(status) else "PENDING",
        timestamp=_timestamp(data.get("messageTimestamp")),
    )


def _timestamp(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return 0


def _text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""
