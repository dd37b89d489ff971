"""Turn request bodies into NewMessage, with errors that name the field. Settings-dependent checks
(region, text length) live here rather than in the pydantic models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import phonenumbers
from pydantic import TypeAdapter, ValidationError

from service.api.schemas import MessageIn
from service.errors import ValidationFailed
from service.queue.models import NewMessage
from service.settings import Settings

_MESSAGE = TypeAdapter(MessageIn)


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """pydantic errors as [{"field": "metadata.plan", "message": ...}] (FastAPI's "body"
    dropped)."""
    out = []
    for error in errors:
        location = [str(part) for part in error["loc"] if part != "body"]
        out.append({"field": ".".join(location) or "body", "message": error["msg"]})
    return out


def normalize_phone(raw: str, region: str) -> str:
    """E.164 digits without "+", as Evolution takes them; raises ValueError naming the problem."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc.args[0] if exc.args else exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number (default region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def to_new_message(
    body: MessageIn,
    settings: Settings,
    now_ms: int,
    *,
    header_key: str | None = None,
    source: str = "api",
) -> NewMessage:
    errors: list[dict[str, str]] = []

    def fail(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    try:
        to = normalize_phone(body.to, settings.messages.default_region)
    except ValueError as exc:
        fail("to", str(exc))
        to = ""
    if not body.text.strip():
        fail("text", "must not be empty")
    elif len(body.text) > settings.api.max_text_chars:
        fail("text", f"longer than {settings.api.max_text_chars} characters ({len(body.text)})")
    send_at = int(body.send_at.timestamp() * 1000) if body.send_at else None
    expires_at = int(body.expires_at.timestamp() * 1000) if body.expires_at else None
    if expires_at is not None:
        if expires_at <= now_ms:
            fail("expires_at", "is in the past")
        elif send_at is not None and expires_at <= send_at:
            fail("expires_at", "must be after send_at")
    if body.metadata and len(orjson.dumps(body.metadata)) > settings.api.max_metadata_bytes:
        fail("metadata", f"larger than {settings.api.max_metadata_bytes} bytes once serialized")
    key = body.idempotency_key
    if header_key is not None and key is not None and header_key != key:
        fail("idempotency_key", "differs from the Idempotency-Key header")
    if errors:
        raise ValidationFailed(errors)
    return NewMessage(
        to=to,
        text=body.text,
        priority=body.priority,
        send_at_ms=send_at,
        expires_at_ms=expires_at,
        idempotency_key=key or header_key,
        metadata=body.metadata,
        source=source,
    )


def parse_item(
    item: dict[str, Any], index: int, settings: Settings, now_ms: int, header_key: str | None
) -> NewMessage:
    """One batch item; field names in errors are relative to the item."""
    try:
        body = _MESSAGE.validate_python(item)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc.errors(include_url=False))) from exc
    # A batch sent with an Idempotency-Key header gives each item without its own key
    # "<header>:<index>",
    # so a client can retry the whole batch safely.
    derived = f"{header_key}:{index}" if header_key and body.idempotency_key is None else None
    return to_new_message(body, settings, now_ms, header_key=derived)
