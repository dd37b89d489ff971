"""The /instance routes (contract section 6): enough of them for an operator to manage instances.

Created instances start "close"; /instance/connect (or create with qrcode:true) moves them to
"connecting", then to "open" after connect_delay_seconds, as if the QR code had been scanned.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from service.sim.guards import authorize, guarded
from service.sim.state import Instance, SimState, instance_settings
from service.sim.validation import INSTANCE, INTEGRATIONS
from service.sim.wire import HttpError, Request, Response, json_response

# A 1x1 PNG: the QR code's base64 field only has to be a well-formed data URL.
_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


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
        await _start_connecting(state, instance)
    return json_response(200, _qrcode(instance, request.query().get("number")))


async def _start_connecting(state: SimState, instance: Instance) -> None:
    instance.set_state("connecting")
    asyncio.get_running_loop().call_later(state.config.connect_delay_seconds, _opened, instance)
    if state.config.qr_wait_seconds:
        await asyncio.sleep(state.config.qr_wait_seconds)


def _opened(instance: Instance) -> None:
    if instance.state == "connecting":  # not logged out or deleted meanwhile
        instance.set_state("open")


def _qrcode(instance: Instance, number: str | None) -> dict[str, Any]:
    pairing = f"{instance.id[:4]}{instance.id[9:13]}".upper() if number else None
    code = f"2@{instance.id},{instance.name},sim"
    return {
        "pairingCode": pairing,
        "code": code,
        "base64": f"data:image/png;base64,{_PNG}",
        "count": 1,
    }


async def logout(state: SimState, request: Request, name: str) -> Response:
    instance = guarded(state, request, name)
    if instance.state == "close":
        raise HttpError(400, [f'The "{name}" instance is not connected'])
    instance.set_state("close")
    return json_response(200, _done("Instance logged out"))


async def delete(state: SimState, request: Request, name: str) -> Response:
    instance = guarded(state, request, name)
    instance.set_state("close")  # Evolution logs an open or connecting instance out first
    del state.instances[name]
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
    if isinstance(webhook, dict) and webhook.get("enabled") and "events" not in webhook:
        # Evolution reads webhook.events.length: a TypeError, reported as this 400 here.
        raise HttpError(400, ["Cannot read properties of undefined (reading 'length')"])
    token = body.get("token") if isinstance(body.get("token"), str) else None
    instance = Instance(
        name,
        token or state.new_uuid().upper(),
        state.new_uuid(),
        state="close",
        ever_open=False,
        integration=body["integration"],
        number=body.get("number"),
        settings=instance_settings(body),
    )
    state.instances[name] = instance
    if body.get("qrcode") is True and instance.integration == "WHATSAPP-BAILEYS":
        await _start_connecting(state, instance)
        return json_response(
            201, {**_created(instance, body), "qrcode": _qrcode(instance, instance.number)}
        )
    return json_response(201, _created(instance, body))


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
        "ownerJid": None,
        "profileName": None,
        "profilePicUrl": None,
        "integration": instance.integration,
        "number": instance.number,
        "businessId": None,
        "token": instance.token,
        "clientName": "evolution-sim",
        "disconnectionReasonCode": None,
        "disconnectionObject": None,
        "disconnectionAt": None,
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
