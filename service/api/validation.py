"""Turn request bodies into NewMessage, with errors that name the field. Settings-dependent checks
(region, text and media sizes) live here rather than in the pydantic models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from service.api.schemas import MessageIn
from service.callbacks.addresses import refusal
from service.content import media_problems
from service.errors import ValidationFailed
from service.phones import normalize_phone
from service.queue.keys import Priority
from service.queue.models import Kind, Media, MediaType, NewMessage
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


class _Errors(list[dict[str, str]]):
    def add(self, field: str, message: str) -> None:
        self.append({"field": field, "message": message})


def _content(body: MessageIn, settings: Settings, errors: _Errors) -> Media | None:
    """The text and media checks of one message; returns its media (kind media)."""
    limit = settings.api.max_text_chars
    if len(body.text) > limit:
        errors.add("text", f"longer than {limit} characters ({len(body.text)})")
    if body.kind == "text":
        if not body.text.strip():
            errors.add("text", "must not be empty")
        if body.media is not None:
            errors.add("media", 'only for kind "media"')
        return None
    if body.media is None:
        errors.add("media", 'required for kind "media"')
        return None
    raw = body.media
    media = Media(MediaType(raw.mediatype), raw.media, raw.mimetype, raw.file_name)
    for field, message in media_problems(media, body.text, settings.api.max_media_bytes):
        errors.add(field, message)
    return media


def _times(body: MessageIn, now_ms: int, errors: _Errors) -> tuple[int | None, int | None]:
    send_at = int(body.send_at.timestamp() * 1000) if body.send_at else None
    expires_at = int(body.expires_at.timestamp() * 1000) if body.expires_at else None
    if expires_at is not None:
        if expires_at <= now_ms:
            errors.add("expires_at", "is in the past")
        elif send_at is not None and expires_at <= send_at:
            errors.add("expires_at", "must be after send_at")
    return send_at, expires_at


def to_new_message(
    body: MessageIn,
    settings: Settings,
    now_ms: int,
    *,
    header_key: str | None = None,
    source: str = "api",
) -> NewMessage:
    errors = _Errors()
    try:
        to = normalize_phone(body.to, settings.messages.default_region)
    except ValueError as exc:
        errors.add("to", str(exc))
        to = ""
    media = _content(body, settings, errors)
    send_at, expires_at = _times(body, now_ms, errors)
    if body.metadata and len(orjson.dumps(body.metadata)) > settings.api.max_metadata_bytes:
        errors.add(
            "metadata", f"larger than {settings.api.max_metadata_bytes} bytes once serialized"
        )
    if body.callback_url is not None:
        refused = refusal(body.callback_url, settings.callbacks.allow_private_networks)
        if refused is not None:
            errors.add("callback_url", refused)
    key = body.idempotency_key
    if header_key is not None and key is not None and header_key != key:
        errors.add("idempotency_key", "differs from the Idempotency-Key header")
    if errors:
        raise ValidationFailed(list(errors))
    return NewMessage(
        to=to,
        text=body.text,
        priority=Priority(body.priority),
        send_at_ms=send_at,
        expires_at_ms=expires_at,
        idempotency_key=key or header_key,
        metadata=body.metadata,
        source=source,
        kind=Kind(body.kind),
        media=media,
        sender=body.sender,
        callback_url=body.callback_url,
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
