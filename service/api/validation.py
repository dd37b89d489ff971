"""Turn request bodies into NewMessage, with errors that name the field. Settings-dependent checks
(region, text and media sizes) live here rather than in the pydantic models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from service.api.schemas import MESSAGE_TAGS, MediaMessageIn, MessageIn, TextMessageIn
from service.callbacks.addresses import refusal
from service.content import media_problems
from service.errors import ValidationFailed
from service.phones import normalize_phone
from service.queue.keys import Priority
from service.queue.models import Kind, Media, MediaType, NewMessage
from service.settings import Settings

# What a pattern means, for the fields whose pattern says it badly.
_PATTERN_MESSAGES = {
    "to": "not a phone number (digits, with an optional +country and separators)",
    "text": "must not be empty",
    "phone": "not a phone number (digits, with an optional +country and separators)",
    "media": "must be an https URL or raw base64 (no data: prefix, no line breaks)",
}
_MESSAGE: TypeAdapter[TextMessageIn | MediaMessageIn] = TypeAdapter(MessageIn)
# The enums by value: a dict lookup, where Priority(value) is a call through EnumType's machinery.
_PRIORITY = {str(priority): priority for priority in Priority}
_KIND = {str(kind): kind for kind in Kind}
Body = TextMessageIn | MediaMessageIn


def field_errors(
    errors: Iterable[Mapping[str, Any]], *, tagged: bool = False
) -> list[dict[str, str]]:
    """pydantic errors as [{"field": "metadata.plan", "message": ...}]: FastAPI's "body" dropped,
    and with ``tagged`` (a message, text or media by its kind) the union's tag too."""
    out = []
    for error in errors:
        location = [str(part) for part in error["loc"]]
        if location[:1] == ["body"]:
            location = location[1:]
        if tagged and location[:1] and location[0] in MESSAGE_TAGS:
            location = location[1:]
        message = error["msg"]
        if error.get("type") == "string_pattern_mismatch" and location:
            message = _PATTERN_MESSAGES.get(location[-1], message)
        out.append({"field": ".".join(location) or "body", "message": message})
    return out


class _Errors(list[dict[str, str]]):
    def add(self, field: str, message: str) -> None:
        self.append({"field": field, "message": message})


def _content(body: Body, settings: Settings, errors: _Errors) -> Media | None:
    """The text and media checks of one message; returns its media (kind media)."""
    limit = settings.api.max_text_chars
    if len(body.text) > limit:
        errors.add("text", f"longer than {limit} characters ({len(body.text)})")
    if isinstance(body, TextMessageIn):
        return None
    raw = body.media
    media = Media(MediaType(raw.mediatype), raw.media, raw.mimetype, raw.file_name)
    for field, message in media_problems(media, body.text, settings.api.max_media_bytes):
        errors.add(field, message)
    return media


def _ms(value: datetime | None) -> int | None:
    """Unix ms of an aware datetime; -1 when it has none (year 1 with an offset)."""
    if value is None:
        return None
    try:
        return int(value.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return -1


def _times(
    body: Body, now_ms: int, window_days: int, errors: _Errors
) -> tuple[int | None, int | None]:
    """send_at and expires_at in unix ms, within ``window_days`` of now: a date far out would
    give a record a TTL of millennia and a response a date that cannot be written."""
    if body.send_at is None and body.expires_at is None:  # most messages: due now, default expiry
        return None, None
    window_ms = window_days * 86_400_000
    send_at, expires_at = _ms(body.send_at), _ms(body.expires_at)
    given = (("send_at", send_at), ("expires_at", expires_at))
    far = [field for field, value in given if value is not None and abs(value - now_ms) > window_ms]
    for field in far:
        errors.add(field, f"more than {window_days} days from now")
    if not far and expires_at is not None:
        if expires_at <= now_ms:
            errors.add("expires_at", "is in the past")
        elif send_at is not None and expires_at <= send_at:
            errors.add("expires_at", "must be after send_at")
    return send_at, expires_at


def _metadata(body: Body, max_bytes: int, errors: _Errors) -> None:
    if not body.metadata:
        return
    try:
        size = len(orjson.dumps(body.metadata))
    except orjson.JSONEncodeError:  # an integer past 64 bits: the payload could not hold it
        errors.add("metadata", "integers must fit in 64 bits")
        return
    if size > max_bytes:
        errors.add("metadata", f"larger than {max_bytes} bytes once serialized")


def to_new_message(
    body: Body,
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
    send_at, expires_at = _times(body, now_ms, settings.api.max_schedule_days, errors)
    _metadata(body, settings.api.max_metadata_bytes, errors)
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
        priority=_PRIORITY[body.priority],
        send_at_ms=send_at,
        expires_at_ms=expires_at,
        idempotency_key=key or header_key,
        metadata=body.metadata,
        source=source,
        kind=_KIND[body.kind],
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
        raise ValidationFailed(field_errors(exc.errors(include_url=False), tagged=True)) from exc
    # A batch sent with an Idempotency-Key header gives each item without its own key
    # "<header>:<index>",
    # so a client can retry the whole batch safely.
    derived = f"{header_key}:{index}" if header_key and body.idempotency_key is None else None
    return to_new_message(body, settings, now_ms, header_key=derived)
