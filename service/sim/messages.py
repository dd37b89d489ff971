"""POST /message/sendText/{instance}, the send steps it shares with sendMedia, and
POST /chat/whatsappNumbers/{instance}.

A send runs Evolution's steps in its order: body parse, guards (404, 401), schema (400), the
route's own checks, then, after the simulated latency, the failure knobs and the number lookup in
the order the real server meets them (contract section 4). Knobs are the instance's effective
ones, precomputed on the Instance: a send costs the same whatever the number of instances.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from service.sim import events
from service.sim.config import Knobs
from service.sim.guards import guarded
from service.sim.jid import create_jid, is_group
from service.sim.model import Instance, Message
from service.sim.state import SimState
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
CONNECTION_CLOSED = "Error: Connection Closed"

Route = Callable[[SimState, Request, str, int], Awaitable[Response]]


async def counted(state: SimState, request: Request, name: str, route: Route) -> Response:
    """Counts a send in /_sim/stats (globally and for its instance) around the real work."""
    instance = state.instances.get(name)
    generation = state.begin(instance)
    status: int | None = None
    try:
        response = await route(state, request, name, generation)
        status = response[0]
        return response
    except HttpError as error:
        status = error.status
        raise
    finally:
        state.end(generation, status, instance)


async def send_text(state: SimState, request: Request, name: str) -> Response:
    return await counted(state, request, name, _send_text)


def validated(
    state: SimState, request: Request, name: str, errors: Callable[[dict[str, Any]], list[str]]
) -> tuple[Instance, dict[str, Any]]:
    """The guards (404, 401), then the route's body schema (400)."""
    instance = guarded(state, request, name)
    body = request.object()
    messages = errors(body)
    if messages:
        raise HttpError(400, messages)
    return instance, body


async def _send_text(state: SimState, request: Request, name: str, generation: int) -> Response:
    received_at = time.time()
    instance, body = validated(state, request, name, send_text_errors)
    text: str = body["text"]
    if not text.strip(_JS_WHITESPACE):
        raise HttpError(400, ["Text is required"])
    draw = await draw_and_wait(state, instance.knobs)
    if draw < instance.knobs.fail_5xx_rate:
        raise HttpError(500, _TYPE_ERROR)
    draw -= instance.knobs.fail_5xx_rate
    message = Message(body["number"], text, "", "", received_at, instance.name)
    content = {"conversation": text}
    return await deliver(state, instance, body, generation, draw, message, content)


async def draw_and_wait(state: SimState, knobs: Knobs) -> float:
    """The one failure draw of a send, then its simulated latency."""
    draw = state.rng.random()
    latency = _latency_seconds(state.rng, knobs)
    if latency:
        await asyncio.sleep(latency)
    return draw


def _latency_seconds(rng: random.Random, knobs: Knobs) -> float:
    if not knobs.latency_jitter_ms:
        return knobs.latency_ms / 1000
    spread = rng.uniform(-knobs.latency_jitter_ms, knobs.latency_jitter_ms)
    return max(0.0, knobs.latency_ms + spread) / 1000


async def deliver(
    state: SimState,
    instance: Instance,
    body: dict[str, Any],
    generation: int,
    draw: float,
    message: Message,
    content: dict[str, Any],
) -> Response:
    """sendMessageWithTyping: the lookup, the typing delay, the send; then the 201, the
    record in /_sim/messages and the webhook events. ``draw`` is what is left of the send's
    failure draw after the route's own rates."""
    jid = _lookup(state, instance, message.number)
    delay = body.get("delay")
    if isinstance(delay, int) and delay > 0:
        # Evolution shows "typing..." for `delay` ms and holds the response meanwhile.
        await asyncio.sleep(delay / 1000)
    knobs = instance.knobs
    if draw < knobs.connection_closed_rate:
        raise HttpError(400, [CONNECTION_CLOSED])
    message.key_id, message.remote_jid = state.new_key_id(), jid
    sent = _sent(instance, jid, message.key_id, content)
    state.accept(generation, message, instance)
    events.after_send(state, instance, sent)
    if draw - knobs.connection_closed_rate < knobs.timeout_rate:
        await asyncio.sleep(state.config.timeout_hang_seconds)
    return json_response(201, sent)


def _lookup(state: SimState, instance: Instance, number: str) -> str:
    """The JID to send to, after Evolution's whatsappNumber() lookup of the recipient."""
    if instance.state != "open":
        # No socket (never connected) is a TypeError; a dropped one is Boom's "Connection Closed".
        raise HttpError(500, "Connection Closed" if instance.ever_open else _NO_SOCKET)
    if instance.connection_closed:
        # A half-dead socket: the lookup is answered (Evolution caches it), presence and the
        # send itself fail inside sendMessageWithTyping's try block.
        raise HttpError(400, [CONNECTION_CLOSED])
    jid = create_jid(number)
    if is_group(jid):
        if state.is_invalid(number, jid):
            raise HttpError(404, ["Group not found"])
    elif "@broadcast" not in jid and state.is_invalid(number, jid):
        raise HttpError(400, [_on_whatsapp(jid, False, number)])
    return jid


def _sent(instance: Instance, jid: str, key_id: str, content: dict[str, Any]) -> dict[str, Any]:
    """prepareMessage() of a fresh send (contract section 3); the type is the content's key."""
    return {
        "key": {"remoteJid": jid, "fromMe": True, "id": key_id},
        "pushName": "Você",
        "status": "PENDING",
        "message": content,
        "messageType": next(iter(content)),
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
