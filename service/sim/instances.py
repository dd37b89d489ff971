"""The /instance routes (contract section 6): enough of them for an operator to manage instances.

Created instances start "close"; /instance/connect (or create with qrcode:true) moves them to
"connecting", then to "open" after connect_delay_seconds, as if the QR code had been scanned
(service/sim/lifecycle.py has the state machine and its webhook events).
"""

from __future__ import annotations

import asyncio
from typing import Any

from service.sim import events
from service.sim.guards import authorize, guarded
from service.sim.hooks import store
from service.sim.lifecycle import LOGGED_OUT, close, set_state, start_connecting
from service.sim.model import Instance, instance_settings
from service.sim.state import SimState
from service.sim.validation import INSTANCE, INTEGRATIONS
from service.sim.webhooks import events_missing
from service.sim.wire import HttpError, Request, Response, json_response


def _done(message: str) -> dict[str, Any]:
    return {"status": "SUCCESS", "error": False, "response": {"message": message}}


def _connection(instance: Instance) -> dict[str, Any]:
    return {"instance": {"instanceName": instance.name, "state": instance.state}}


async def connection_state(state: SimState, request: Request, name: str) -> Response:
    return json_response(200, _connection(guarded(state, request, name)))


async def connect(state: SimState, request: Request, name: str) -> Response:
    """close -> connecting (answers the QR code); connecting -> the same QR; open -> the state."""
    instance = guarded(state, request, name)
    if instance.state == "open":
        return json_response(200, _connection(instance))
    if instance.state == "close":
        await _start_connecting(state, instance, request.query().get("number"))
    return json_response(200, instance.qr)


async def _start_connecting(state: SimState, instance: Instance, number: str | None) -> None:
    start_connecting(state, instance, number)
    if state.config.qr_wait_seconds:
        await asyncio.sleep(state.config.qr_wait_seconds)


async def restart(state: SimState, request: Request, name: str) -> Response:
    """An open or connecting session reconnects (connecting, then open) and the answer is
    connect's; a closed one is an HTTP 200 error object whose message is "[object Object]",
    because Evolution calls toString() on the plain object its BadRequestException throws."""
    instance = guarded(state, request, name)
    if instance.state == "close":
        return json_response(200, {"error": True, "message": "[object Object]"})
    if instance.state == "open":
        set_state(state, instance, "connecting")
    return json_response(200, instance.qr)


async def logout(state: SimState, request: Request, name: str) -> Response:
    instance = guarded(state, request, name)
    if instance.state == "close":
        raise HttpError(400, [f'The "{name}" instance is not connected'])
    close(state, instance, LOGGED_OUT)
    return json_response(200, _done("Instance logged out"))


async def delete(state: SimState, request: Request, name: str) -> Response:
    instance = guarded(state, request, name)
    if instance.state != "close":  # Evolution logs an open or connecting instance out first
        close(state, instance, LOGGED_OUT)
    del state.instances[name]
    events.emit(
        state, instance, "instance.delete", {"instanceName": name, "instanceId": instance.id}
    )
    events.emit(state, instance, "remove.instance", None)
    return json_response(200, _done("Instance deleted"))


async def create(state: SimState, request: Request, _: str | None = None) -> Response:
    body = request.object()
    name = body.get("instanceName")
    if isinstance(name, str) and name in state.instances:
        raise HttpError(403, [f'This name "{name}" is already in use.'])  # before auth
    authorize(state, request)  # the global key only: there is no instance to own a token yet
    errors = INSTANCE.errors(body)
    if errors:
        raise HttpError(400, errors)
    if body.get("integration") not in INTEGRATIONS:
        raise HttpError(400, ["Invalid integration"])
    if not isinstance(name, str) or not name:
        raise HttpError(400, ["instanceName is required"])
    webhook = body.get("webhook")
    missing = events_missing(webhook) if isinstance(webhook, dict) else None
    if missing is not None:  # reported as a 400 by create's catch-all
        raise HttpError(400, [missing.message])
    token = body.get("token") if isinstance(body.get("token"), str) else None
    instance = Instance(
        name,
        token or state.new_uuid().upper(),
        state.new_uuid(),
        state.knobs({}),
        state="close",
        ever_open=False,
        integration=body["integration"],
        number=body.get("number"),
        settings=instance_settings(body),
    )
    state.instances[name] = instance
    if isinstance(webhook, dict):
        # EventManager.setInstance: enabled is forced on, the other fields pass through.
        given = {key: webhook[key] for key in _HOOK_FIELDS if key in webhook}
        store(instance, {**given, "enabled": True}, state.new_cuid)
    events.emit(
        state, instance, "instance.create", {"instanceName": name, "instanceId": instance.id}
    )
    if body.get("qrcode") is True and instance.integration == "WHATSAPP-BAILEYS":
        await _start_connecting(state, instance, instance.number)
        return json_response(201, {**_created(instance, body), "qrcode": instance.qr})
    return json_response(201, _created(instance, body))


_HOOK_FIELDS = ("url", "headers", "byEvents", "base64", "events")


def _created(instance: Instance, body: dict[str, Any]) -> dict[str, Any]:
    """The 201 body of /instance/create; unset webhook fields are left out, as JSON drops
    JavaScript's undefined."""
    webhook: dict[str, Any] = body["webhook"] if isinstance(body.get("webhook"), dict) else {}
    hook = {
        "webhookUrl": webhook.get("url"),
        "webhookHeaders": webhook.get("headers"),
        "webhookByEvents": webhook.get("byEvents"),
        "webhookBase64": webhook.get("base64"),
    }
    return {
        "instance": {
            "instanceName": instance.name,
            "instanceId": instance.id,
            "integration": instance.integration,
            "webhookWaBusiness": None,
            "accessTokenWaBusiness": "",
            "status": instance.state,
        },
        "hash": instance.token,
        "webhook": {key: value for key, value in hook.items() if value is not None},
        "websocket": {},
        "rabbitmq": {},
        "nats": {},
        "sqs": {},
        "settings": instance.settings,
    }


async def fetch_instances(state: SimState, request: Request, _: str | None = None) -> Response:
    """The global key sees every instance; an instance token only the instances it owns."""
    request.json()
    if request.apikey and request.apikey != state.config.api_key:
        owned = [i for i in state.instances.values() if request.apikey == i.token]
        if not owned:
            raise HttpError(401, "Unauthorized")
    else:
        authorize(state, request)
        owned = list(state.instances.values())
    query = request.query()
    name = query.get("instanceName")
    if name:
        owned = [i for i in owned if i.name == name]
        if not owned:
            raise HttpError(404, [f'Instance "{name}" not found'])
    for param, attribute in (("instanceId", "id"), ("number", "number")):
        if query.get(param):
            owned = [i for i in owned if getattr(i, attribute) == query[param]]
    return json_response(200, [_row(i) for i in owned])


def _row(instance: Instance) -> dict[str, Any]:
    """A Prisma Instance row with its relations, as fetchInstances returns it."""
    return {
        "id": instance.id,
        "name": instance.name,
        "connectionStatus": instance.state,
        "ownerJid": instance.wuid,
        "profileName": instance.name if instance.ever_open else None,
        "profilePicUrl": None,
        "integration": instance.integration,
        "number": instance.number,
        "businessId": None,
        "token": instance.token,
        "clientName": "evolution-sim",
        **_disconnection(instance),
        "createdAt": instance.created_at,
        "updatedAt": instance.updated_at,
        "Chatwoot": None,
        "Proxy": None,
        "Rabbitmq": None,
        "Nats": None,
        "Sqs": None,
        "Websocket": None,
        "Setting": {**instance.settings, "instanceId": instance.id},
        "_count": {"Message": 0, "Contact": 0, "Chat": 0},
    }


def _disconnection(instance: Instance) -> dict[str, Any]:
    code, at = instance.disconnection or (None, None)
    detail = None if code is None else f'{{"error":{{"output":{{"statusCode":{code}}}}}}}'
    return {"disconnectionReasonCode": code, "disconnectionObject": detail, "disconnectionAt": at}
