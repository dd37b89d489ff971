"""Request and response bodies of the HTTP API (the OpenAPI schema at /docs comes from these)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.queue.models import MessageRecord
from service.settings import SENDER_NAME_PATTERN

Scalar = str | int | float | bool | None


class MediaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mediatype: Literal["image", "document", "video", "audio"]
    media: str = Field(
        min_length=1,
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


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(
        description="Recipient phone; without +country it is read in messages.default_region.",
        examples=["+55 11 99999-9999"],
    )
    kind: Literal["text", "media"] = "text"
    text: str = Field(
        "",
        description="The message (kind text: required, at most api.max_text_chars characters), "
        "or the caption of an image, video or document (kind media: optional).",
    )
    media: MediaIn | None = Field(None, description="The attachment (kind media only).")
    priority: Literal["urgent", "normal", "low"] = "normal"
    send_at: AwareDatetime | None = Field(None, description="Do not send before this time.")
    expires_at: AwareDatetime | None = Field(
        None, description="Do not send after this time (default: due time + default validity)."
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    metadata: dict[str, Scalar] | None = Field(None, description="Free-form, returned as given.")
    sender: str | None = Field(
        None,
        pattern=SENDER_NAME_PATTERN,
        description="Send through this sender of the pool only (422 if there is none by that "
        "name); default: the pool routes it.",
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one by the route, so that one bad item rejects only itself.
    messages: list[dict[str, Any]] = Field(min_length=1)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    error: str
    detail: Any = None


class TransitionOut(BaseModel):
    status: str
    at: datetime
    attempt: int | None = None
    error_class: str | None = None
    sender: str | None = Field(None, description="On sending: the sender the pool chose.")
    rerouted_from: str | None = Field(
        None, description="Back to queued: this sender failed it (the attempt did not count)."
    )


def _dt(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


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
        "queued", "scheduled", "sending", "sent", "failed", "dead", "expired", "cancelled"
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

    @classmethod
    def of(cls, record: MessageRecord) -> MessageOut:
        media = record.content.media
        return cls(
            id=record.id,
            to=record.to,
            kind=record.content.kind,
            media=MediaOut(
                mediatype=media.mediatype,
                url=media.media if media.is_url else None,
                mimetype=media.mimetype,
                file_name=media.file_name,
            )
            if media
            else None,
            priority=record.priority,
            status=record.status,
            attempts=record.attempts,
            created_at=_dt(record.created_at_ms),
            send_at=_dt(record.send_at_ms),
            expires_at=_dt(record.expires_at_ms),
            next_attempt_at=_dt(record.next_attempt_at_ms)
            if record.status == "scheduled"
            else None,
            provider_message_id=record.provider_id,
            remote_jid=record.remote_jid,
            last_error=record.last_error,
            error_class=record.error_class,
            idempotency_key=record.idempotency_key,
            metadata=record.metadata,
            sender=record.sender,
            pinned_sender=record.pinned_sender,
            history=[
                TransitionOut(
                    status=entry["status"],
                    at=_dt(entry["at_ms"]),
                    attempt=entry.get("attempt"),
                    error_class=entry.get("error_class"),
                    sender=entry.get("sender"),
                    rerouted_from=entry.get("rerouted_from"),
                )
                for entry in record.history
            ],
        )


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
