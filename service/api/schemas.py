"""Request and response bodies of the HTTP API (the OpenAPI schema at /docs comes from these)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.queue.models import MessageRecord

Scalar = str | int | float | bool | None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(
        description="Recipient phone; without +country it is read in messages.default_region.",
        examples=["+55 11 99999-9999"],
    )
    text: str = Field(description="Message text (at most api.max_text_chars characters).")
    priority: Literal["urgent", "normal", "low"] = "normal"
    send_at: AwareDatetime | None = Field(None, description="Do not send before this time.")
    expires_at: AwareDatetime | None = Field(
        None, description="Do not send after this time (default: due time + default validity)."
    )
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    metadata: dict[str, Scalar] | None = Field(None, description="Free-form, returned as given.")


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


def _dt(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


class MessageOut(BaseModel):
    id: str
    to: str
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
    history: list[TransitionOut] = Field(description="Every status transition with its time.")

    @classmethod
    def of(cls, record: MessageRecord) -> MessageOut:
        return cls(
            id=record.id,
            to=record.to,
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
            history=[
                TransitionOut(
                    status=entry["status"],
                    at=_dt(entry["at_ms"]),
                    attempt=entry.get("attempt"),
                    error_class=entry.get("error_class"),
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


class RequeueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_class: str | None = Field(
        None, description="Only dead letters whose last error is of this class."
    )


class RequeueOut(BaseModel):
    requeued: int
