"""POST/GET/DELETE /v1/messages and POST /v1/messages/batch.

A message belongs to the key that created it (its tenant): another key reads and cancels it only
with the admin scope, and otherwise gets the 404 of a message that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from service import metrics
from service.api.deps import (
    BackpressureDep,
    MessageIdPath,
    QueueDep,
    QuotasDep,
    ReaderKey,
    SenderKey,
    SettingsDep,
)
from service.api.schemas import (
    BatchIn,
    BatchItemOut,
    BatchOut,
    FieldError,
    MessageIn,
    MessageOut,
)
from service.api.validation import parse_item, to_new_message
from service.auth.keys import Principal
from service.errors import (
    Conflict,
    IdempotencyConflict,
    NotFound,
    RecipientOptedOut,
    ValidationFailed,
)
from service.limits.quotas import Quotas
from service.queue.models import EnqueueResult, MessageRecord, NewMessage, now_ms
from service.queue.store import MessageQueue

router = APIRouter(prefix="/v1/messages", tags=["messages"])

IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]
_REPLAYED = {
    "Idempotent-Replayed": {
        "description": "true when an earlier request with this idempotency key created it.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

_CONFLICT = "this idempotency key was already used with a different request"
_OPTED_OUT = "the recipient opted out: the number is on the suppression list (/v1/suppressions)"


def _refusal(result: EnqueueResult, message: NewMessage) -> FieldError | None:
    """Why the enqueue script refused a message (nothing was written), if it did."""
    if result.outcome == "conflict":
        return FieldError(field="idempotency_key", message=_CONFLICT)
    if result.outcome == "unknown_sender":
        return FieldError(field="sender", message=f"no sender named {message.sender!r} in the pool")
    if result.outcome == "opted_out":
        return FieldError(field="to", message=_OPTED_OUT, code=RecipientOptedOut.code)
    return None


def _count(results: list[EnqueueResult], messages: list[NewMessage]) -> None:
    for result, message in zip(results, messages, strict=True):
        if result.outcome == "new":
            metrics.ACCEPTED.labels(message.priority, message.source, message.kind).inc()
        elif result.outcome == "duplicate":
            metrics.DEDUPLICATED.labels(message.source).inc()
        elif result.outcome == "opted_out":
            metrics.OPTED_OUT_MESSAGES.labels("api").inc()


async def _enqueue(
    queue: MessageQueue,
    quotas: Quotas,
    principal: Principal,
    messages: list[NewMessage],
    at_ms: int | None = None,
    *,
    records: bool = True,
) -> list[EnqueueResult]:
    """Enqueue as ``principal``'s tenant, within its daily quota: all are reserved first (or
    none: 429), those not created (duplicates, refusals) are given back."""
    await quotas.reserve(principal, len(messages))
    try:
        results = await queue.enqueue(messages, principal.name, at_ms=at_ms, records=records)
    except BaseException:
        await quotas.give_back(principal, len(messages))
        raise
    await quotas.give_back(principal, sum(result.outcome != "new" for result in results))
    _count(results, messages)
    return results


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses={202: {"headers": _REPLAYED}, 409: {"description": "Idempotency key reused."}},
)
async def create_message(
    body: MessageIn,
    response: Response,
    settings: SettingsDep,
    queue: QueueDep,
    quotas: QuotasDep,
    principal: SenderKey,
    backpressure: BackpressureDep,
    idempotency_key: IdempotencyHeader = None,
) -> MessageOut:
    """Enqueue one message. Replaying an idempotency key returns the original message."""
    message = to_new_message(body, settings, now_ms(), header_key=idempotency_key)
    await backpressure.admit(1)
    [result] = await _enqueue(queue, quotas, principal, [message])
    if result.outcome == "conflict":
        raise IdempotencyConflict(_CONFLICT)
    refusal = _refusal(result, message)
    if refusal is not None:
        error = RecipientOptedOut if refusal.code == RecipientOptedOut.code else ValidationFailed
        raise error([refusal.model_dump(exclude_none=True)])
    if result.record is not None:
        return MessageOut.of(result.record)
    response.headers["Idempotent-Replayed"] = "true"
    return MessageOut.of(await _visible(queue, result.message_id, principal))


@router.post("/batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchOut)
async def create_message_batch(
    body: BatchIn,
    settings: SettingsDep,
    queue: QueueDep,
    quotas: QuotasDep,
    principal: SenderKey,
    backpressure: BackpressureDep,
    idempotency_key: IdempotencyHeader = None,
) -> BatchOut:
    """Enqueue up to api.max_batch_items messages; valid items pass even when others fail."""
    if len(body.messages) > settings.api.max_batch_items:
        limit = settings.api.max_batch_items
        raise ValidationFailed([{"field": "messages", "message": f"at most {limit} items"}])
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
    outcomes = await _enqueue(queue, quotas, principal, messages, at_ms=now, records=False)
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


@router.get("/{message_id}", response_model=MessageOut)
async def get_message(
    message_id: MessageIdPath, queue: QueueDep, principal: ReaderKey
) -> MessageOut:
    """Status, attempts, each transition with its time, Evolution's message id, last error."""
    return MessageOut.of(await _visible(queue, message_id, principal))


@router.delete(
    "/{message_id}", response_model=MessageOut, responses={409: {"description": "Too late."}}
)
async def cancel_message(
    message_id: MessageIdPath, request: Request, queue: QueueDep, principal: SenderKey
) -> MessageOut:
    """Cancel a message that is queued or scheduled (also while waiting for a retry)."""
    owner = (await _visible(queue, message_id, principal)).key_id
    if owner != principal.name:
        request.scope["state"]["audit"] = "cancel of another tenant's message"
    outcome, current = await queue.cancel(message_id)
    if outcome == "missing":
        raise NotFound(f"no message {message_id}")
    if outcome == "conflict":
        raise Conflict(f"message {message_id} is {current} and can no longer be cancelled")
    record = await _visible(queue, message_id, principal)
    metrics.CANCELLED.labels(record.priority).inc()
    return MessageOut.of(record)


async def _visible(queue: MessageQueue, message_id: str, principal: Principal) -> MessageRecord:
    """The message, if ``principal`` may see it: its own, or any with the admin scope."""
    record = await queue.get(message_id)
    if record is None or not (principal.admin or record.key_id == principal.name):
        raise NotFound(f"no message {message_id}")
    return record
