"""POST/GET/DELETE /v1/messages and POST /v1/messages/batch.

A message belongs to the key that created it (its tenant): another key reads and cancels it only
with the admin scope, and otherwise gets the 404 of a message that does not exist.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response, status
from starlette.datastructures import State

from service import metrics
from service.api import direct
from service.api.deps import MessageIdPath, QueueDep, ReaderKey, SenderKey
from service.api.schemas import BatchIn, BatchOut, MessageIn, MessageOut, message_json
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
from service.settings import Settings

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
_JSON = "application/json"


def _refusal(result: EnqueueResult, message: NewMessage) -> dict[str, str | None] | None:
    """Why the enqueue script refused a message (nothing was written), if it did: a FieldError."""
    if result.outcome == "conflict":
        return _field_error("idempotency_key", _CONFLICT)
    if result.outcome == "unknown_sender":
        return _field_error("sender", f"no sender named {message.sender!r} in the pool")
    if result.outcome == "opted_out":
        return _field_error("to", _OPTED_OUT, RecipientOptedOut.code)
    return None


def _field_error(field: str, message: str, code: str | None = None) -> dict[str, str | None]:
    """A FieldError as the batch answers it (every field present)."""
    return {"field": field, "message": message, "code": code}


def _count(results: list[EnqueueResult], messages: list[NewMessage]) -> None:
    """The outcome counters, one increment per label set and request (not per message)."""
    counts: Counter[tuple[str, ...]] = Counter()
    for result, message in zip(results, messages, strict=True):
        if result.outcome == "new":
            counts["new", message.priority, message.source, message.kind] += 1
        elif result.outcome == "duplicate":
            counts["duplicate", message.source] += 1
        elif result.outcome == "opted_out":
            counts[("opted_out",)] += 1
    for (outcome, *labels), count in counts.items():
        if outcome == "new":
            metrics.ACCEPTED.labels(*labels).inc(count)
        elif outcome == "duplicate":
            metrics.DEDUPLICATED.labels(*labels).inc(count)
        else:
            metrics.OPTED_OUT_MESSAGES.labels("api").inc(count)


async def _enqueue(
    state: State,
    principal: Principal,
    messages: list[NewMessage],
    at_ms: int | None = None,
    *,
    records: bool = True,
) -> list[EnqueueResult]:
    """Enqueue as ``principal``'s tenant, within its daily quota: all are reserved first (or
    none: 429), those not created (duplicates, refusals) are given back."""
    quotas: Quotas = state.quotas
    queue: MessageQueue = state.queue
    await quotas.reserve(principal, len(messages))
    try:
        results = await queue.enqueue(messages, principal.name, at_ms=at_ms, records=records)
    except BaseException:
        await quotas.give_back(principal, len(messages))
        raise
    await quotas.give_back(principal, sum(result.outcome != "new" for result in results))
    _count(results, messages)
    return results


# The two ingest routes are DirectRoutes (service/api/direct.py): their signatures declare the
# operation; a plain request reaches them without FastAPI's dependency solving. They answer with
# a Response they serialise themselves (the response_model documents it).
@direct.post(
    router,
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses={202: {"headers": _REPLAYED}, 409: {"description": "Idempotency key reused."}},
)
async def create_message(
    request: Request,
    body: MessageIn,
    principal: SenderKey,
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    """Enqueue one message. Replaying an idempotency key returns the original message."""
    state = request.app.state
    message = to_new_message(body, state.settings, now_ms(), header_key=idempotency_key)
    await state.backpressure.admit(1)
    [result] = await _enqueue(state, principal, [message])
    if result.outcome == "conflict":
        raise IdempotencyConflict(_CONFLICT)
    refusal = _refusal(result, message)
    if refusal is not None:
        error = RecipientOptedOut if refusal["code"] else ValidationFailed
        raise error([{key: value for key, value in refusal.items() if value is not None}])
    if result.record is not None:
        return Response(message_json(result.record), status.HTTP_202_ACCEPTED, media_type=_JSON)
    # A replay: the record as stored, through the model (it checks what Redis held).
    record = await _visible(state.queue, result.message_id, principal)
    content = MessageOut.of(record).model_dump_json()
    headers = {"Idempotent-Replayed": "true"}
    return Response(content, status.HTTP_202_ACCEPTED, headers, media_type=_JSON)


@direct.post(router, "/batch", status_code=status.HTTP_202_ACCEPTED, response_model=BatchOut)
async def create_message_batch(
    request: Request,
    body: BatchIn,
    principal: SenderKey,
    idempotency_key: IdempotencyHeader = None,
) -> Response:
    """Enqueue up to api.max_batch_items messages; valid items pass even when others fail."""
    state = request.app.state
    settings: Settings = state.settings
    if len(body.messages) > settings.api.max_batch_items:
        limit = settings.api.max_batch_items
        raise ValidationFailed([{"field": "messages", "message": f"at most {limit} items"}])
    now = now_ms()
    results: list[dict[str, Any]] = [{} for _ in body.messages]
    valid: list[tuple[int, NewMessage]] = []
    for index, item in enumerate(body.messages):
        try:
            valid.append((index, parse_item(item, index, settings, now, idempotency_key)))
        except ValidationFailed as exc:
            errors = [_field_error(error["field"], error["message"]) for error in exc.detail]
            results[index] = _rejected(index, errors)
    if len(valid) < len(results):
        metrics.REJECTED.labels("validation").inc(len(results) - len(valid))
    messages = [message for _, message in valid]
    # Past a backpressure limit the batch is refused whole (503 queue_full): nothing is enqueued.
    if messages:
        await state.backpressure.admit(len(messages))
    outcomes = await _enqueue(state, principal, messages, at_ms=now, records=False)
    for (index, message), outcome in zip(valid, outcomes, strict=True):
        refusal = _refusal(outcome, message)
        if refusal is not None:
            results[index] = _rejected(index, [refusal])
        else:
            duplicate = outcome.outcome == "duplicate"
            results[index] = _item(index, "accepted", outcome.message_id, duplicate, None)
    accepted = sum(1 for result in results if result["status"] == "accepted")
    answer = {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
    return Response(orjson.dumps(answer), status.HTTP_202_ACCEPTED, media_type=_JSON)


def _rejected(index: int, errors: list[dict[str, str | None]]) -> dict[str, Any]:
    return _item(index, "rejected", None, False, errors)


def _item(
    index: int, status: str, message_id: str | None, duplicate: bool, errors: Any
) -> dict[str, Any]:
    """A BatchItemOut, every field in its order."""
    return {
        "index": index,
        "status": status,
        "id": message_id,
        "duplicate": duplicate,
        "errors": errors,
    }


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
