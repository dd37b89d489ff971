"""The client callbacks' dead letters: /v1/callbacks/dead-letters, and replaying them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from service.api.auth import AdminKey
from service.api.deps import QueueDep
from service.api.schemas import CallbackOut, CallbacksOut, ErrorOut, ReplayOut
from service.errors import Conflict, NotFound
from service.queue.callbacks import CallbackQueue

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


def _callbacks(queue: QueueDep) -> CallbackQueue:
    return CallbackQueue(queue)


CallbacksDep = Annotated[CallbackQueue, Depends(_callbacks)]


@router.get("/dead-letters", response_model=CallbacksOut, responses=_ERRORS)
async def list_callback_dead_letters(
    callbacks: CallbacksDep,
    _: AdminKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CallbacksOut:
    """Callbacks whose retries ran out (or whose address was refused), newest first."""
    total, page = await callbacks.dead_letters(offset=offset, limit=limit)
    return CallbacksOut(total=total, items=[CallbackOut.of(event) for event in page])


@router.post("/dead-letters/{event_id}/replay", response_model=CallbackOut, responses=_ERRORS)
async def replay_callback(event_id: str, callbacks: CallbacksDep, _: AdminKey) -> CallbackOut:
    """Deliver it again: attempts start over, at once (same webhook-id: receivers dedupe)."""
    if not await callbacks.replay([event_id]):
        event = await callbacks.get(event_id)
        if event is None:
            raise NotFound(f"no callback {event_id}")
        raise Conflict(f"callback {event_id} is not a dead letter")
    event = await callbacks.get(event_id)
    if event is None:  # pragma: no cover - replay just gave it a fresh TTL
        raise NotFound(f"no callback {event_id}")
    return CallbackOut.of(event)


@router.post("/dead-letters/replay", response_model=ReplayOut, responses=_ERRORS)
async def replay_callbacks(callbacks: CallbacksDep, _: AdminKey) -> ReplayOut:
    """Replay every dead letter (after fixing the receiver)."""
    return ReplayOut(replayed=len(await callbacks.replay_all()))
