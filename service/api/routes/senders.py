"""The sender pool, /v1/senders: list with state, read, create or replace, delete, pause, resume."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from service.api.deps import AdminKey, SendersDep
from service.api.schemas import ErrorOut, SenderOut
from service.errors import NotFound
from service.metrics.queue import available
from service.queue.models import now_ms
from service.senders.registry import SenderRegistry, SenderState
from service.settings import SENDER_NAME_PATTERN, SenderOptions, SenderSpec

router = APIRouter(prefix="/v1/senders", tags=["senders"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}
Name = Annotated[str, Path(pattern=SENDER_NAME_PATTERN, description="The sender's name.")]


def _dt(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def _out(state: SenderState) -> SenderOut:
    sender = state.sender
    return SenderOut(
        name=sender.name,
        instance=sender.instance,
        base_url=sender.base_url,
        own_api_key=sender.own_api_key,
        rate_per_second=sender.rate_per_second,
        burst=sender.burst,
        daily_limit=sender.daily_limit,
        today=state.today,
        time_zone=sender.time_zone,
        paused=sender.paused,
        connection=sender.connection,
        available=available(state),
        breaker=state.breaker,
        breaker_opened_at=_dt(state.opened_at_ms),
        last_error_class=state.last_error_class,
        last_error_at=_dt(state.last_error_at_ms),
        last_success_at=_dt(state.last_success_at_ms),
        sends_last_minute=state.sends_last_minute,
        parked=state.parked,
    )


async def _state(registry: SenderRegistry, name: str) -> SenderState:
    for state in await registry.states(now_ms()):
        if state.sender.name == name:
            return state
    raise NotFound(f"no sender {name}")


@router.get("", response_model=list[SenderOut], responses=_ERRORS)
async def list_senders(registry: SendersDep, _: AdminKey) -> list[SenderOut]:
    """Every sender with its rate, daily limit and today's count, breaker and recent errors."""
    return [_out(state) for state in await registry.states(now_ms())]


@router.get("/{name}", response_model=SenderOut, responses=_ERRORS)
async def get_sender(name: Name, registry: SendersDep, _: AdminKey) -> SenderOut:
    return _out(await _state(registry, name))


@router.put(
    "/{name}",
    response_model=SenderOut,
    responses={**_ERRORS, 201: {"model": SenderOut, "description": "Created."}},
)
async def put_sender(
    name: Name, body: SenderOptions, registry: SendersDep, response: Response, _: AdminKey
) -> SenderOut:
    """Create (201) or replace (200) a sender; its limiter, breaker and today's count survive."""
    created = await registry.put(SenderSpec(name=name, **body.model_dump()))
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _out(await _state(registry, name))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def delete_sender(name: Name, registry: SendersDep, _: AdminKey) -> Response:
    """Stop routing to it; messages pinned to it fail, messages sticky to it go elsewhere."""
    if not await registry.delete(name):
        raise NotFound(f"no sender {name}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/pause", response_model=SenderOut, responses=_ERRORS)
async def pause_sender(name: Name, registry: SendersDep, _: AdminKey) -> SenderOut:
    """No new sends through it (messages pinned to it wait); in-flight sends finish."""
    if not await registry.set_paused(name, True):
        raise NotFound(f"no sender {name}")
    return _out(await _state(registry, name))


@router.post("/{name}/resume", response_model=SenderOut, responses=_ERRORS)
async def resume_sender(name: Name, registry: SendersDep, _: AdminKey) -> SenderOut:
    if not await registry.set_paused(name, False):
        raise NotFound(f"no sender {name}")
    return _out(await _state(registry, name))
