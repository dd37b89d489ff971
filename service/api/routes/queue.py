"""GET /v1/queue and the dead letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.api.deps import AdminKey, MessageIdPath, QueueDep
from service.api.schemas import (
    DeadLettersOut,
    ErrorClass,
    ErrorOut,
    MessageOut,
    QueueOut,
    RequeueIn,
    RequeueOut,
)
from service.errors import Conflict, NotFound

router = APIRouter(prefix="/v1", tags=["queue"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}
# Deepest page of the dead letters: they are trimmed to their retention (14 days), and a client that
# pages further should filter by error_class instead.
MAX_DEAD_LETTER_OFFSET = 1_000_000


@router.get("/queue", response_model=QueueOut, responses=_ERRORS)
async def queue_stats(queue: QueueDep, _: AdminKey) -> QueueOut:
    """Ready depth per priority, scheduled, retrying, in flight, dead letters, oldest ready age."""
    stats = await queue.stats()
    return QueueOut(
        ready=stats.ready,
        ready_total=stats.ready_total,
        oldest_ready_age_seconds=stats.oldest_ready_age_seconds,
        scheduled=stats.scheduled,
        retrying=stats.retrying,
        in_flight=stats.in_flight,
        dead_letters=stats.dead_letters,
    )


@router.get("/dead-letters", response_model=DeadLettersOut, responses=_ERRORS)
async def dead_letters(
    queue: QueueDep,
    _: AdminKey,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Annotated[
        int, Query(ge=0, le=MAX_DEAD_LETTER_OFFSET, description="Dead letters to skip.")
    ] = 0,
    error_class: Annotated[
        ErrorClass | None, Query(description="Only those whose last error is of this class.")
    ] = None,
) -> DeadLettersOut:
    """Newest first. With ``error_class`` the pages and ``total`` are of the matching ones."""
    total, records = await queue.dead_letters(offset=offset, limit=limit, error_class=error_class)
    return DeadLettersOut(total=total, items=[MessageOut.of(record) for record in records])


@router.post("/dead-letters/{message_id}/requeue", response_model=MessageOut, responses=_ERRORS)
async def requeue_one(message_id: MessageIdPath, queue: QueueDep, _: AdminKey) -> MessageOut:
    """Send a dead letter again: attempts start over, with a fresh validity window."""
    if not await queue.requeue([message_id]):
        record = await queue.get(message_id)
        if record is None:
            raise NotFound(f"no message {message_id}")
        raise Conflict(f"message {message_id} is {record.status}, not a dead letter")
    record = await queue.get(message_id)
    if record is None:  # pragma: no cover - requeue just extended its TTL
        raise NotFound(f"no message {message_id}")
    return MessageOut.of(record)


@router.post("/dead-letters/requeue", response_model=RequeueOut, responses=_ERRORS)
async def requeue_all(queue: QueueDep, _: AdminKey, body: RequeueIn | None = None) -> RequeueOut:
    """Requeue every dead letter, or only those whose last error is of ``error_class``."""
    requeued = await queue.requeue_all(error_class=body.error_class if body else None)
    return RequeueOut(requeued=len(requeued))
