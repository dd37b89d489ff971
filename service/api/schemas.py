"""Request and response bodies of the HTTP API (the OpenAPI schema at /docs comes from these)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag

from service.queue.callbacks import DeadCallback
from service.queue.models import MessageRecord
from service.queue.receipts import Suppression
from service.settings import SENDER_NAME_PATTERN

Scalar = str | int | float | bool | None


# An https URL with a host, or raw base64 (no line breaks, padded): what Evolution takes.
MEDIA_PATTERN = (
    r"^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][^\s]{0,2000})?"
    r"|([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)$"
)
#: The schema shows the base64 length of api.max_media_bytes (contract.py).
MEDIA_LIMIT = 4 * (16 * 1024 * 1024 // 3)


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mediatype: Literal["image", "document", "video", "audio"]
    media: str = Field(
        min_length=1,
        max_length=MEDIA_LIMIT,
        pattern=MEDIA_PATTERN,
        description="An https URL (Evolution downloads it when it sends: it must still be valid "
        "then, retries included) or raw base64 without a data: prefix (at most "
        "api.max_media_bytes once decoded).",
    )
    mimetype: str | None = Field(
        None, pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=127, examples=["application/pdf"]
    )
    file_name: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="Shown to the recipient; required for a base64 document.",
        examples=["boleto-1234.pdf"],
    )


# What a phone number may look like in a request (digits with the usual separators, an optional
# +country); whether it is a real number is for phonenumbers (422 naming `to`).
PHONE_PATTERN = r"^\+?[0-9(][0-9 ().-]{5,31}$"
#: The longest text the schema allows; the OpenAPI document shows api.max_text_chars (contract.py).
TEXT_LIMIT = 65_536


class _MessageBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(
        pattern=PHONE_PATTERN,
        description="Recipient phone; without +country it is read in messages.default_region.",
        examples=["+55 11 99999-9999"],
        json_schema_extra={"format": "phone"},
    )
    priority: Literal["urgent", "normal", "low"] = "normal"
    send_at: AwareDatetime | None = Field(
        None,
        description="Do not send before this time; at most api.max_schedule_days from now.",
    )
    expires_at: AwareDatetime | None = Field(
        None,
        description="Do not send after this time (default: due time + default validity); in "
        "the future, after send_at, at most api.max_schedule_days from now.",
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    metadata: dict[str, Scalar] | None = Field(
        None, description="Free-form, returned as given; at most api.max_metadata_bytes as JSON."
    )
    sender: str | None = Field(
        None,
        pattern=SENDER_NAME_PATTERN,
        description="Send through this sender of the pool only (422 if there is none by that "
        "name); default: the pool routes it.",
    )
    callback_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+",
        max_length=2048,
        description="Where this message's signed status callbacks go (docs/callbacks.md); "
        "default: the API key's endpoint (callbacks.key_urls, callbacks.default_url).",
    )


class TextMessageIn(_MessageBase):
    """A text message (``kind`` may be left out)."""

    kind: Literal["text"] = "text"
    text: str = Field(
        min_length=1,
        max_length=TEXT_LIMIT,
        pattern=r"\S",
        description="The message: at most api.max_text_chars characters, not only blanks.",
    )


class MediaMessageIn(_MessageBase):
    """An attachment, with ``text`` as its caption (image, video, document)."""

    kind: Literal["media"]
    media: MediaIn = Field(description="The attachment.")
    text: str = Field(
        "",
        max_length=TEXT_LIMIT,
        description="The caption (image, video and document only; audio carries none).",
    )


def _kind(value: Any) -> str:
    kind = value.get("kind", "text") if isinstance(value, dict) else getattr(value, "kind", "")
    return kind if kind in ("text", "media") else "text"


#: One message: which model validates it is decided by ``kind`` (text when left out), so that a
#: text message needs its text and a media message its media, in the schema too.
MessageIn = Annotated[
    Annotated[TextMessageIn, Tag("text")] | Annotated[MediaMessageIn, Tag("media")],
    Discriminator(_kind),
]
MESSAGE_TAGS = ("text", "media")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one by the route, so that one bad item rejects only itself.
    messages: list[dict[str, Any]] = Field(
        min_length=1,
        description="Each item is a message (createMessage's body); an item that is not valid "
        "is rejected in the results on its own.",
    )


class FieldError(BaseModel):
    field: str
    message: str
    #: A stable code for refusals a client acts on (recipient_opted_out).
    code: str | None = None


class ErrorOut(BaseModel):
    """Every error: a stable machine-readable code, and what went wrong."""

    error: str = Field(examples=["validation_error"])
    detail: str | list[FieldError] | dict[str, Any] | None = Field(
        None, description="A sentence, or (validation_error) one entry per bad field."
    )


class TransitionOut(BaseModel):
    status: str
    at: datetime
    attempt: int | None = None
    error_class: str | None = None
    sender: str | None = Field(None, description="On sending: the sender the pool chose.")
    rerouted_from: str | None = Field(
        None, description="Back to queued: this sender failed it (the attempt did not count)."
    )
    reason: str | None = Field(
        None, description="On cancelled: recipient_opted_out when the recipient opted out."
    )


_MIN_MS = int(datetime(1, 1, 2, tzinfo=UTC).timestamp() * 1000)
_MAX_MS = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp() * 1000)


def _dt(ms: int | None) -> datetime | None:
    """A stored time as a datetime, clamped to what datetime holds: a response never fails on a
    record written before dates were bounded."""
    if ms is None:
        return None
    return datetime.fromtimestamp(min(max(ms, _MIN_MS), _MAX_MS) / 1000, UTC)


class MediaOut(BaseModel):
    mediatype: str
    #: The URL as given; None for base64 media (never echoed back).
    url: str | None
    mimetype: str | None
    file_name: str | None


class MessageOut(BaseModel):
    id: str
    to: str
    kind: Literal["text", "media"]
    media: MediaOut | None
    priority: str
    status: Literal[
        "queued",
        "scheduled",
        "sending",
        "sent",
        "acknowledged",
        "delivered",
        "read",
        "failed",
        "dead",
        "expired",
        "cancelled",
    ]
    attempts: int
    created_at: datetime
    send_at: datetime | None
    expires_at: datetime
    next_attempt_at: datetime | None
    provider_message_id: str | None = Field(description="Evolution's key.id, once sent.")
    remote_jid: str | None
    last_error: str | None
    error_class: str | None
    idempotency_key: str | None
    metadata: dict[str, Scalar] | None
    sender: str | None = Field(description="The sender of the last attempt.")
    pinned_sender: str | None = Field(description="The sender the request pinned it to.")
    history: list[TransitionOut] = Field(description="Every status transition with its time.")
    delivered_at: datetime | None = Field(
        None, description="WhatsApp delivered it to the phone (Evolution's DELIVERY_ACK)."
    )
    read_at: datetime | None = Field(None, description="The recipient opened it (READ).")
    callback_url: str | None = Field(None, description="Where its status callbacks go.")

    @classmethod
    def of(cls, record: MessageRecord) -> MessageOut:
        return cls.model_validate(_message_fields(record))


def message_json(record: MessageRecord) -> bytes:
    """``MessageOut.of(record).model_dump_json()`` for a record enqueue just built, without
    building the models (a third of the single POST's own work): orjson writes the same bytes
    (tests/api/test_direct.py compares them)."""
    return orjson.dumps(_message_fields(record), option=orjson.OPT_UTC_Z)


def _message_fields(record: MessageRecord) -> dict[str, Any]:
    """A MessageOut's fields, in its order, as plain values."""
    media = record.content.media
    return {
        "id": record.id,
        "to": record.to,
        "kind": record.content.kind,
        "media": {
            "mediatype": media.mediatype,
            "url": media.media if media.is_url else None,
            "mimetype": media.mimetype,
            "file_name": media.file_name,
        }
        if media
        else None,
        "priority": record.priority,
        "status": record.status,
        "attempts": record.attempts,
        "created_at": _dt(record.created_at_ms),
        "send_at": _dt(record.send_at_ms),
        "expires_at": _dt(record.expires_at_ms),
        "next_attempt_at": _dt(record.next_attempt_at_ms) if record.status == "scheduled" else None,
        "provider_message_id": record.provider_id,
        "remote_jid": record.remote_jid,
        "last_error": record.last_error,
        "error_class": record.error_class,
        "idempotency_key": record.idempotency_key,
        "metadata": record.metadata,
        "sender": record.sender,
        "pinned_sender": record.pinned_sender,
        "history": [_transition(entry) for entry in record.history],
        "delivered_at": _dt(record.delivered_at_ms),
        "read_at": _dt(record.read_at_ms),
        "callback_url": record.callback_url,
    }


def _transition(entry: dict[str, Any]) -> dict[str, Any]:
    """A TransitionOut's fields, in its order."""
    return {
        "status": entry["status"],
        "at": _dt(entry["at_ms"]),
        "attempt": entry.get("attempt"),
        "error_class": entry.get("error_class"),
        "sender": entry.get("sender"),
        "rerouted_from": entry.get("rerouted_from"),
        "reason": entry.get("reason"),
    }


class BatchItemOut(BaseModel):
    index: int
    status: Literal["accepted", "rejected"]
    id: str | None = None
    #: True when an earlier request with the same idempotency key created this message.
    duplicate: bool = False
    errors: list[FieldError] | None = None


class BatchOut(BaseModel):
    accepted: int
    rejected: int
    results: list[BatchItemOut]


class QueueOut(BaseModel):
    ready: dict[str, int]
    ready_total: int
    oldest_ready_age_seconds: dict[str, float]
    scheduled: int
    retrying: int
    in_flight: int
    dead_letters: int


class DeadLettersOut(BaseModel):
    total: int
    items: list[MessageOut]


class ErrorClass(StrEnum):
    """Every class a message's last error can have: the Evolution client's (ERROR_CLASSES) and the
    worker's own (tests/api/test_bounds.py proves the lists agree)."""

    TRANSPORT = "transport"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    INSTANCE_UNAVAILABLE = "instance_unavailable"
    UNAUTHORIZED = "unauthorized"
    INSTANCE_NOT_FOUND = "instance_not_found"
    INVALID_RECIPIENT = "invalid_recipient"
    REJECTED = "rejected"
    UNEXPECTED_RESPONSE = "unexpected_response"
    REDELIVERY_LIMIT = "redelivery_limit"
    SENDER_UNKNOWN = "sender_unknown"


class RequeueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_class: ErrorClass | None = Field(
        None, description="Only dead letters whose last error is of this class."
    )


class RequeueOut(BaseModel):
    requeued: int


class SenderOut(BaseModel):
    name: str
    instance: str
    base_url: str
    own_api_key: bool = Field(description="False: it uses ZAPQ_EVOLUTION__API_KEY.")
    rate_per_second: float
    burst: int
    daily_limit: int | None
    today: int = Field(description="Send attempts today (in time_zone), against daily_limit.")
    time_zone: str
    paused: bool
    connection: Literal["open", "connecting", "close"]
    available: bool = Field(description="The pool may route to it now (its rate aside).")
    breaker: Literal["closed", "open", "half_open"]
    breaker_opened_at: datetime | None
    last_error_class: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    sends_last_minute: int
    parked: int = Field(description="Messages pinned to it, waiting for it to take them.")


class SuppressionOut(BaseModel):
    phone: str
    opted_out_at: datetime
    source: Literal["keyword", "api"] = Field(
        description="keyword: the customer wrote one (callbacks.opt_out_keywords); api: PUT."
    )
    keyword: str | None = Field(None, description="What the customer wrote (source keyword).")

    @classmethod
    def of(cls, suppression: Suppression) -> SuppressionOut:
        return cls(
            phone=suppression.phone,
            opted_out_at=datetime.fromtimestamp(suppression.at_ms / 1000, UTC),
            source="keyword" if suppression.source == "keyword" else "api",
            keyword=suppression.keyword,
        )


class SuppressionsOut(BaseModel):
    total: int
    items: list[SuppressionOut]


class CallbackOut(BaseModel):
    id: str = Field(description="The event's id: the webhook-id header of every attempt.")
    type: str
    url: str
    message_id: str | None
    status: str | None
    at: datetime = Field(description="When the change it reports happened.")
    attempts: int
    last_error: str | None
    dead_at: datetime | None

    @classmethod
    def of(cls, event: DeadCallback) -> CallbackOut:
        return cls(
            id=event.id,
            type=event.type,
            url=event.url,
            message_id=event.message_id,
            status=event.status,
            at=datetime.fromtimestamp(event.at_ms / 1000, UTC),
            attempts=event.attempts,
            last_error=event.last_error,
            dead_at=_dt(event.dead_at_ms),
        )


class CallbacksOut(BaseModel):
    total: int
    items: list[CallbackOut]


class ReplayOut(BaseModel):
    replayed: int


class ErasureOut(BaseModel):
    phone: str = Field(description="The number as zapq stores it (E.164 digits, no +).")
    messages: int = Field(description="Message records removed, with their jobs and texts.")
    idempotency_keys: int = Field(description="Idempotency keys removed with them.")
    callback_events: int = Field(
        description="Client callbacks about the number not yet delivered, removed (its messages' "
        "statuses, its own replies and opt-out)."
    )
    sticky_sender: bool = Field(description="True: the number's sticky sender was forgotten.")
    suppressed: bool = Field(
        description="True: the number opted out and stays on the suppression list."
    )
