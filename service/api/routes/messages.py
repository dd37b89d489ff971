"""POST/GET/DELETE /v1/messages and POST /v1/messages/batch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response, status

from service import metrics
from service.api.deps import BackpressureDep, KeyIdDep, MessageIdPath, QueueDep, SettingsDep
from service.api.schemas import (
    BatchIn,
    BatchItemOut,
    BatchOut,
    ErrorOut,
    FieldError,
    MessageIn,
    MessageOut,
)
from service.api.validation import parse_item, to_new_message
from service.errors import Conflict, NotFound, ValidationFailed
from service.queue.models import EnqueueResult, MessageRecord, NewMessage, now_ms
from service.queue.store import MessageQueue

router = APIRouter(prefix="/v1/messages", tags=["messages"])

IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}

_CONFLICT = "this idempotency key was already used with a different request"


def _refusal(result: EnqueueResult, message: NewMessage) -> FieldError | None:
    """Why the enqueue script refused a message (nothing was written), if it did."""
    if result.outcome == "conflict":
        return FieldError(field="idempotency_key", message=_CONFLICT)
    if result.outcome == "unknown_sender":
        return FieldError(field="sender", message=f"no sender named {message.sender!r} in the pool")
    return None


def _count(results: list[EnqueueResult], messages: list[NewMessage]) -> None:
    for result, message in zip(results, messages, strict=True):
        if result.outcome == "new":
            metrics.ACCEPTED.labels(message.priority, message.source, message.kind).inc()
        elif result.outcome == "duplicate":
            metrics.DEDUPLICATED.labels(message.source).inc()


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=MessageOut, responses=_ERRORS)
async def create_message(
    body: MessageIn,
    response: Response,
    settings: SettingsDep,
    queue: QueueDep,
    backpressure: BackpressureDep,
    key_id: KeyIdDep,
    idempotency_key: IdempotencyHeader = None,
) -> MessageOut:
    """Enqueue one message. Replaying an idempotency key returns the original message."""
    message = to_new_message(body, settings, now_ms(), header_key=idempotency_key)
    await backpressure.admit(1)
    [result] = await queue.enqueue([message], key_id)
    _count([result], [message])
    refusal = _refusal(result, message)
    if refusal is not None:
        raise ValidationFailed([refusal.model_dump()])
    if result.record is not None:
        return MessageOut.of(result.record)
    response.headers["Idempotent-Replayed"] = "true"
    return MessageOut.of(await _existing(queue, result.message_id))


@router.post(
    "/batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchOut, responses=_ERRORS
)
async def create_batch(
    body: BatchIn,
    settings: SettingsDep,
    queue: QueueDep,
    backpressure: BackpressureDep,
    key_id: KeyIdDep,
    idempotency_key: IdempotencyHeader = None,
) -> BatchOut:
    """Enqueue up to api.max_batch_items messages; valid items pass even when others fail."""
    if len(body.messages) > settings.api.max_batch_items:
        raise ValidationFailed(
            [
                {
                    "field": "messages",
                    "message": f"at most {settings.api.max_batch_items} items per batch",
                }
            ]
        )
    now = now_ms()
    results: list[BatchItemOut] = []
    valid: list[tuple[int, NewMessage]] = []
    for index, item in enumerate(body.messages):
        try:
            valid.append((index, parse_item(item, index, settings, now, idempotency_key)))
        except ValidationFailed as exc:
            metrics.REJECTED.labels("validation").inc()
            results.append(BatchItemOut(index=index, status="rejected", errors=exc.detail))
    messages = [message for _, message in valid]
    # Past a backpressure limit the batch is refused whole (503 queue_full): nothing is enqueued.
    if messages:
        await backpressure.admit(len(messages))
    outcomes = await queue.enqueue(messages, key_id, at_ms=now)
    _count(outcomes, messages)
    for (index, message), outcome in zip(valid, outcomes, strict=True):
        refusal = _refusal(outcome, message)
        if refusal is not None:
            results.append(BatchItemOut(index=index, status="rejected", errors=[refusal]))
        else:
            duplicate = outcome.outcome == "duplicate"
            results.append(
                BatchItemOut(
                    index=index, status="accepted", id=outcome.message_id, duplicate=duplicate
                )
            )
    results.sort(key=lambda item: item.index)
    accepted = sum(item.status == "accepted" for item in results)
    return BatchOut(accepted=accepted, rejected=len(results) - accepted, results=results)


@router.get("/{message_id}", response_model=MessageOut, responses=_ERRORS)
async def get_message(message_id: MessageIdPath, queue: QueueDep, _: KeyIdDep) -> MessageOut:
    """Status, attempts, each transition with its time, Evolution's message id, last error."""
    return MessageOut.of(await _existing(queue, message_id))


@router.delete("/{message_id}", response_model=MessageOut, responses=_ERRORS)
async def cancel_message(message_id: MessageIdPath, queue: QueueDep, _: KeyIdDep) -> MessageOut:
    """Cancel a message that is queued or scheduled (also while waiting for a retry)."""
    outcome, current = await queue.cancel(message_id)
    if outcome == "missing":
        raise NotFound(f"no message {message_id}")
    if outcome == "conflict":
        raise Conflict(f"message {message_id} is {current} and can no longer be cancelled")
    record = await _existing(queue, message_id)
    metrics.CANCELLED.labels(record.priority).inc()
    return MessageOut.of(record)


async def _existing(queue: MessageQueue, message_id: str) -> MessageRecord:
    record = await queue.get(message_id)
    if record is None:
        raise NotFound(f"no message {message_id}")
    return record
