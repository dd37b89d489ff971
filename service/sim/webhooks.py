"""POST /webhook/set/{instance} and GET /webhook/find/{instance} (contract section 5).

Read from Evolution 2.3.6: webhook.router.ts (201 / 200), webhook.schema.ts (the schema below),
WebhookController.set (``enabled: false`` stores ``events: []``, ``events: []`` stores all
events, missing ``events`` with ``enabled: true`` is a TypeError -> 500) and the Prisma Webhook
row it answers with. /instance/create stores its nested ``webhook`` through
EventManager.setInstance, which forces ``enabled: true``.
"""

from __future__ import annotations

from typing import Any

from service.sim.guards import guarded
from service.sim.hooks import EVENTS, store
from service.sim.state import SimState
from service.sim.validation import BodySchema
from service.sim.wire import HttpError, Request, Response, json_response

_NOT_EMPTY = {
    "if": {"propertyNames": {"enum": ["enabled", "url"]}},
    "then": {
        "properties": {
            name: {"minLength": 1, "description": f'The "{name}" cannot be empty'}
            for name in ("enabled", "url")
        }
    },
}
WEBHOOK_SCHEMA = BodySchema(
    {
        "type": "object",
        "properties": {
            "webhook": {
                "type": "object",
                "properties": {
                    "enabled": {"type": "boolean"},
                    "url": {"type": "string"},
                    "headers": {"type": "object"},
                    "byEvents": {"type": "boolean"},
                    "base64": {"type": "boolean"},
                    "events": {
                        "type": "array",
                        "minItems": 0,
                        "items": {"type": "string", "enum": list(EVENTS)},
                    },
                },
                "required": ["enabled", "url"],
                **_NOT_EMPTY,
            }
        },
        "required": ["webhook"],
    }
)


def events_missing(webhook: dict[str, Any]) -> HttpError | None:
    """``data.webhook.events.length`` on a missing (or null) ``events``: the TypeError."""
    if "events" in webhook and webhook["events"] is not None:
        return None
    kind = "null" if "events" in webhook else "undefined"
    return HttpError(500, f"Cannot read properties of {kind} (reading 'length')")


async def set_webhook(state: SimState, request: Request, name: str) -> Response:
    instance = guarded(state, request, name)
    body = request.object()
    errors = WEBHOOK_SCHEMA.errors(body)
    if errors:
        raise HttpError(400, errors)
    webhook: dict[str, Any] = body["webhook"]
    if webhook.get("enabled"):
        missing = events_missing(webhook)
        if missing is not None:
            raise missing
    return json_response(201, store(instance, webhook, state.new_cuid))


async def find_webhook(state: SimState, request: Request, name: str) -> Response:
    """The row, or null (``res.json(null)``) for an instance that never had one."""
    instance = guarded(state, request, name)
    return json_response(200, None if instance.hook is None else instance.hook.row)
