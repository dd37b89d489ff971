"""POST /v1/webhooks/evolution (and Evolution's by-event paths): receipts, connection state and
customers' messages from Evolution. Auth, parse, one Redis script, answer: nothing slow inline
(client callbacks are queued for the workers to deliver)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response

from service.api.deps import QueueDep, SendersDep, SettingsDep
from service.api.schemas import ErrorOut
from service.callbacks.evolution import EvolutionHooks, WebhookAuth, event_name
from service.errors import Unauthorized, ValidationFailed
from service.queue.receipts import Lifecycle

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    413: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


def _authorized(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Evolution's configured header: the webhook token, or a JWT signed with it (jwt_key)."""
    if not WebhookAuth(settings.evolution.webhook_token.get_secret_value()).allows(authorization):
        raise Unauthorized("Authorization must carry the webhook token or a JWT signed with it")


def _hooks(queue: QueueDep, registry: SendersDep, settings: SettingsDep) -> EvolutionHooks:
    return EvolutionHooks(Lifecycle(queue), registry, settings)


@router.post("/evolution", responses=_ERRORS, dependencies=[Depends(_authorized)])
@router.post("/evolution/{event}", responses=_ERRORS, dependencies=[Depends(_authorized)])
async def evolution_webhook(
    request: Request,
    hooks: Annotated[EvolutionHooks, Depends(_hooks)],
    event: str | None = None,
) -> Response:
    """One Evolution webhook post ({event, instance, data, ...}). Always 200 once authenticated
    and parsed, also for an unknown message id or an event zapq does not read, so that Evolution
    does not retry it; ``outcomes`` says what became of it."""
    try:
        envelope = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed([{"field": "body", "message": "not JSON"}]) from exc
    if not isinstance(envelope, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object"}])
    name = event_name(envelope, event)
    outcomes = await hooks.handle(name, envelope)
    body = orjson.dumps({"event": name, "outcomes": outcomes})
    return Response(body, media_type="application/json")
