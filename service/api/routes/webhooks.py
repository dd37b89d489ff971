"""POST /v1/webhooks/evolution (and Evolution's by-event paths): receipts, connection state and
customers' messages from Evolution. Auth, parse, one Redis script, answer: nothing slow inline
(client callbacks are queued for the workers to deliver).

The handler reads what it needs from the app's state itself instead of through the sync
dependencies of deps.py: FastAPI runs a sync dependency in its thread pool, and those hops were
most of this route's cost (docs/benchmarks.md, "Webhook ingest").
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from service.api.auth import EvolutionCaller
from service.api.schemas import ErrorOut
from service.callbacks.evolution import EvolutionHooks, event_name
from service.errors import MalformedJson, ValidationFailed
from service.queue.receipts import Lifecycle
from service.settings import Settings

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


@router.post("/evolution", responses=_ERRORS, operation_id="receiveEvolutionWebhook")
@router.post("/evolution/{event}", responses=_ERRORS, operation_id="receiveEvolutionWebhookByEvent")
async def evolution_webhook(
    request: Request, _: EvolutionCaller, event: str | None = None
) -> Response:
    """One Evolution webhook post ({event, instance, data, ...}), authenticated by
    ``Authorization: Bearer <evolution.webhook_token>`` or a JWT signed with it (jwt_key): the
    guard checks it before the body is read. 200 once parsed, also for an unknown message id or
    an event zapq does not read, so that Evolution does not retry it; ``outcomes`` says what
    became of it."""
    state = request.app.state
    settings: Settings = state.settings
    try:
        envelope = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise MalformedJson("the body is not valid JSON") from exc
    if not isinstance(envelope, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object"}])
    name = event_name(envelope, event)
    hooks = EvolutionHooks(Lifecycle(state.queue), state.senders, settings)
    outcomes = await hooks.handle(name, envelope)
    return Response(
        orjson.dumps({"event": name, "outcomes": outcomes}), media_type="application/json"
    )
