"""POST /message/sendText/{instance} and POST /chat/whatsappNumbers/{instance}.

sendText runs Evolution's steps in its order: body parse, guards (404, 401), schema (400), the
blank-text check, then, after the simulated latency, the failure knobs and the number lookup in
the order the real server meets them (contract section 4).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from service.sim.guards import guarded
from service.sim.jid import create_jid, is_group
from service.sim.state import Instance, Message, SimState
from service.sim.validation import WHATSAPP_NUMBERS, send_text_errors
from service.sim.wire import HttpError, Request, Response, json_response

# What JavaScript's String.prototype.trim() removes (Python's strip() differs in a few places).
_JS_WHITESPACE = (
    "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# The TypeError Evolution answers when an instance is in the DB but not loaded (issue #1412).
_TYPE_ERROR = "Cannot read properties of undefined (reading 'textMessage')"
_NO_SOCKET = "Cannot read properties of undefined (reading 'onWhatsApp')"


async def send_text(state: SimState, request: Request, name: str) -> Response:
    """Counts the request in /_sim/stats around the real work."""
    generation = state.begin()
    status: int | None = None
    try:
        response = await _send_text(state, request, name, generation)
        status = response[0]
        return response
    except HttpError as error:
        status = error.status
        raise
    finally:
        state.end(generation, status)


async def _send_text(state: SimState, request: Request, name: str, generation: int) -> Response:
    received_at = time.time()
    instance = guarded(state, request, name)
    body = request.object()
    errors = send_text_errors(body)
    if errors:
        raise HttpError(400, errors)
    number: str = body["number"]
    text: str = body["text"]
    if not text.strip(_JS_WHITESPACE):
        raise HttpError(400, ["Text is required"])
    config = state.config
    draw = state.rng.random()
    latency = state.latency_seconds()
    if latency:
        await asyncio.sleep(latency)
    if draw < config.fail_5xx_rate:
        raise HttpError(500, _TYPE_ERROR)
    jid = _lookup(state, instance, number)
    delay = body.get("delay")
    if isinstance(delay, int) and delay > 0:
        # Evolution shows "typing..." for `delay` ms and holds the response meanwhile.
        await asyncio.sleep(delay / 1000)
    draw -= config.fail_5xx_rate
    if draw < config.connection_closed_rate:
        raise HttpError(400, ["Error: Connection Closed"])
    key_id = state.new_key_id()
    state.accept(generation, Message(number, text, key_id, jid, received_at, instance.name))
    if draw - config.connection_closed_rate < config.timeout_rate:
        await asyncio.sleep(config.timeout_hang_seconds)
    return json_response(201, _sent(instance, jid, key_id, text))


def _lookup(state: SimState, instance: Instance, number: str) -> str:
    """The JID to send to, after Evolution's whatsappNumber() lookup of the recipient."""
    if instance.state != "open":
        # No socket (never connected) is a TypeError; a dropped one is Boom's "Connection Closed".
        raise HttpError(500, "Connection Closed" if instance.ever_open else _NO_SOCKET)
    jid = create_jid(number)
    if is_group(jid):
        if state.is_invalid(number, jid):
            raise HttpError(404, ["Group not found"])
    elif "@broadcast" not in jid and state.is_invalid(number, jid):
        raise HttpError(400, [_on_whatsapp(jid, False, number)])
    return jid


def _sent(instance: Instance, jid: str, key_id: str, text: str) -> dict[str, Any]:
    """prepareMessage() of a fresh send (contract section 3)."""
    return {
        "key": {"remoteJid": jid, "fromMe": True, "id": key_id},
        "pushName": "Você",
        "status": "PENDING",
        "message": {"conversation": text},
        "messageType": "conversation",
        "messageTimestamp": int(time.time()),
        "instanceId": instance.id,
        "source": "unknown",
    }


def _on_whatsapp(jid: str, exists: bool, number: str) -> dict[str, Any]:
    """An OnWhatsAppDto (src/api/dto/chat.dto.ts); ``name`` and ``lid`` are left out, as for a
    number with no known contact."""
    return {"jid": jid, "exists": exists, "number": number}


async def whatsapp_numbers(state: SimState, request: Request, name: str) -> Response:
    """Errors here are the raw thrown object with HTTP 400, not the envelope (section 7)."""
    instance = guarded(state, request, name)
    body = request.object()
    errors = WHATSAPP_NUMBERS.errors(body)
    if errors:
        return json_response(400, {"status": 400, "error": "Bad Request", "message": errors})
    numbers = body.get("numbers")
    if numbers is None or instance.state != "open":
        return json_response(400, {})  # a TypeError, which serialises as {}
    broadcasts: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    for number in numbers:
        jid = create_jid(number)
        if "@broadcast" in jid:
            broadcasts.append(_on_whatsapp(jid, False, number))
        else:
            found = _on_whatsapp(jid, not state.is_invalid(number, jid), number)
            (groups if is_group(jid) else users).append(found)
    return json_response(200, broadcasts + groups + users)
