"""The suppression list (opt-outs): /v1/suppressions. A number on it gets no message: POST
/v1/messages refuses it (422 recipient_opted_out) and a message queued before it opted out ends
cancelled, unsent. Customers get on it by writing an opt-out keyword (callbacks.opt_out_keywords);
the API adds and lifts entries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from service import metrics
from service.api.auth import AdminKey
from service.api.deps import QueueDep, SettingsDep
from service.api.schemas import ErrorOut, SuppressionOut, SuppressionsOut
from service.errors import NotFound, ValidationFailed
from service.phones import normalize_phone
from service.queue.models import now_ms
from service.queue.receipts import Lifecycle, Suppression

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


def _lifecycle(queue: QueueDep) -> Lifecycle:
    return Lifecycle(queue)


LifecycleDep = Annotated[Lifecycle, Depends(_lifecycle)]
Phone = Annotated[str, Path(description="A phone number, normalised as in POST /v1/messages.")]


def _normalized(phone: str, settings: SettingsDep) -> str:
    try:
        return normalize_phone(phone, settings.messages.default_region)
    except ValueError as exc:
        raise ValidationFailed([{"field": "phone", "message": str(exc)}]) from exc


@router.get("", response_model=SuppressionsOut, responses=_ERRORS)
async def list_suppressions(
    lifecycle: LifecycleDep,
    _: AdminKey,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> SuppressionsOut:
    """Newest first."""
    total, page = await lifecycle.suppressions(offset=offset, limit=limit)
    return SuppressionsOut(total=total, items=[SuppressionOut.of(entry) for entry in page])


@router.get("/{phone}", response_model=SuppressionOut, responses=_ERRORS)
async def get_suppression(
    phone: Phone, lifecycle: LifecycleDep, settings: SettingsDep, _: AdminKey
) -> SuppressionOut:
    number = _normalized(phone, settings)
    entry = await lifecycle.suppression(number)
    if entry is None:
        raise NotFound(f"{phone} is not on the suppression list")
    return SuppressionOut.of(entry)


@router.put(
    "/{phone}",
    response_model=SuppressionOut,
    responses={**_ERRORS, 201: {"model": SuppressionOut, "description": "Opted out now."}},
)
async def put_suppression(
    phone: Phone,
    lifecycle: LifecycleDep,
    settings: SettingsDep,
    principal: AdminKey,
    response: Response,
) -> SuppressionOut:
    """Opt the number out (201; 200 if it already was, keeping its first opt-out). Messages
    queued for it end cancelled when a worker takes them; recipient.opted_out is reported."""
    number = _normalized(phone, settings)
    cfg = settings.callbacks
    created = await lifecycle.suppress(number, cfg.inbound_url or cfg.url_for(principal.name))
    if created:
        metrics.OPT_OUTS.labels("api").inc()
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    # Just written; only a DELETE racing this request can have lifted it since.
    entry = await lifecycle.suppression(number) or Suppression(number, now_ms(), "api")
    return SuppressionOut.of(entry)


@router.delete("/{phone}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def delete_suppression(
    phone: Phone, lifecycle: LifecycleDep, settings: SettingsDep, _: AdminKey
) -> Response:
    """Lift the opt-out (the person asked to hear from you again)."""
    if not await lifecycle.unsuppress(_normalized(phone, settings)):
        raise NotFound(f"{phone} is not on the suppression list")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
