"""The webhook events the simulator emits, in Evolution's shapes (contract section 5).

An event becomes a Delivery only when the instance has a webhook that is enabled for it and whose
URL is http(s) (WebhookController.emit). The events of one message (send.message, then the
messages.update receipts) form a chain: each is queued its own delay after the previous one's
first post is over, so without ``webhook_shuffle`` they arrive in order however slow the
receiver. Receipt draws use their own seeded generator, so webhooks never shift the failure draws.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson

from service.sim.config import ACK_STATUSES
from service.sim.delivery import Delivery
from service.sim.model import Instance
from service.sim.state import SimState
from service.sim.tokens import webhook_token

#: (event, data, delay before it in seconds, receipt status or None)
Step = tuple[str, dict[str, Any] | None, float, str | None]


def config_name(event: str) -> str:
    """``messages.update`` -> ``MESSAGES_UPDATE`` (the name webhooks are configured with)."""
    return event.replace(".", "_").replace("-", "_").upper()


def kebab(event: str) -> str:
    """``messages.update`` -> ``messages-update`` (the byEvents path)."""
    return config_name(event).replace("_", "-").lower()


def _date_time() -> str:
    """Evolution's date_time: local wall time labelled Z (right only when TZ is UTC)."""
    return datetime.now().isoformat(timespec="milliseconds") + "Z"


def emit(state: SimState, instance: Instance, event: str, data: dict[str, Any] | None) -> None:
    """One event, now (if the instance's webhook wants it)."""
    emit_chain(state, instance, [(event, data, 0.0, None)])


def emit_chain(
    state: SimState, instance: Instance, steps: list[Step], key_id: str | None = None
) -> None:
    if steps and instance.hook is not None and instance.hook.postable:
        _Chain(state, instance, steps, state.webhooks.generation, key_id).schedule(0)


@dataclass(slots=True)
class _Chain:
    """The events of one message (or one state change), each fired its delay after the
    previous one's first post is over."""

    state: SimState
    instance: Instance
    steps: list[Step]
    generation: int
    key_id: str | None

    def schedule(self, index: int) -> None:
        if index >= len(self.steps):
            return
        delay = self.steps[index][2]
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self.fire, index)
        else:
            self.fire(index)

    def fire(self, index: int) -> None:
        if self.generation != self.state.webhooks.generation:
            return  # a reset came in between
        event, data, _, ack = self.steps[index]
        delivery = _delivery(self.state, self.instance, event, data, self.generation)
        if delivery is None:
            self.schedule(index + 1)
            return
        delivery.key_id, delivery.ack = self.key_id, ack
        delivery.then = partial(self.schedule, index + 1)
        self.state.webhooks.submit(delivery)


def _delivery(
    state: SimState, instance: Instance, event: str, data: dict[str, Any] | None, generation: int
) -> Delivery | None:
    """The post of one event, as WebhookController.emit builds it; None if not wanted."""
    hook = instance.hook
    if hook is None or not hook.wants(config_name(event)):
        return None
    config = state.config
    envelope: dict[str, Any] = {
        "event": event,
        "instance": instance.name,
        "data": data,
        "destination": hook.url,
        "date_time": _date_time(),
    }
    if instance.wuid is not None:  # undefined (so left out) before the first connection
        envelope["sender"] = instance.wuid
    envelope["server_url"] = config.server_url
    exposed = config.expose_in_fetch_instances
    envelope["apikey"] = (instance.token or "Apikey not found") if exposed else None
    headers = hook.headers
    if hook.jwt_key is not None:
        headers = {**headers, "Authorization": f"Bearer {webhook_token(hook.jwt_key)}"}
    url = f"{hook.url}/{kebab(event)}" if hook.by_events else hook.url
    return Delivery(instance.name, event, url, orjson.dumps(envelope), headers, generation)


def after_send(state: SimState, instance: Instance, sent: dict[str, Any]) -> None:
    """send.message, then the SERVER_ACK, DELIVERY_ACK and READ receipts that are drawn."""
    hook = instance.hook
    if hook is None or not hook.postable:
        return
    steps: list[Step] = []
    if hook.wants("SEND_MESSAGE"):
        steps.append(("send.message", sent, 0.0, None))
    if hook.wants("MESSAGES_UPDATE"):
        steps.extend(_receipts(state, instance, sent))
    emit_chain(state, instance, _perturbed(state, instance, steps), sent["key"]["id"])


def _receipts(state: SimState, instance: Instance, sent: dict[str, Any]) -> list[Step]:
    """The receipts that happen, each delayed from the previous event; a receipt that does not
    happen leaves its delay to the next one."""
    knobs, rng = instance.knobs, state.hook_rng
    key = sent["key"]
    steps: list[Step] = []
    delay = 0.0
    for status in ACK_STATUSES:
        delay += knobs.ack_delays_ms[status] / 1000
        if rng.random() < knobs.ack_probabilities[status]:
            data = {
                "keyId": key["id"],
                "remoteJid": key["remoteJid"],
                "fromMe": True,
                "status": status,
                "instanceId": instance.id,
            }
            steps.append(("messages.update", data, delay, status))
            delay = 0.0
    return steps


def _perturbed(state: SimState, instance: Instance, steps: list[Step]) -> list[Step]:
    """webhook_shuffle permutes the events over the same delays; webhook_duplicate_rate posts
    some twice in a row."""
    knobs, rng = instance.knobs, state.hook_rng
    if knobs.webhook_shuffle and len(steps) > 1:
        contents = [(event, data, ack) for event, data, _, ack in steps]
        rng.shuffle(contents)
        steps = [(e, d, step[2], a) for (e, d, a), step in zip(contents, steps, strict=True)]
    if knobs.webhook_duplicate_rate:
        doubled: list[Step] = []
        for step in steps:
            doubled.append(step)
            if rng.random() < knobs.webhook_duplicate_rate:
                doubled.append((step[0], step[1], 0.0, step[3]))
        steps = doubled
    return steps


def connection_update(state: SimState, instance: Instance, status_reason: int = 200) -> None:
    """connection.update for the instance's current state (connectionUpdate() in the Baileys
    service); a close for good is preceded by status.instance."""
    data: dict[str, Any] = {"instance": instance.name}
    if instance.state == "open":
        data |= {"wuid": instance.wuid, "profileName": instance.name, "profilePictureUrl": None}
    data |= {"state": instance.state, "statusReason": status_reason}
    steps: list[Step] = []
    if instance.state == "close":
        steps.append(("status.instance", _closed(instance, status_reason), 0.0, None))
        steps.append(("logout.instance", None, 0.0, None))
    steps.append(("connection.update", data, 0.0, None))
    emit_chain(state, instance, steps)


def _closed(instance: Instance, code: int) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    boom = {"statusCode": code, "payload": {"statusCode": code, "message": "Intentional Logout"}}
    last = {"error": {"isBoom": True, "isServer": code >= 500, "output": boom}, "date": at}
    return {
        "instance": instance.name,
        "status": "closed",
        "disconnectionAt": at,
        "disconnectionReasonCode": code,
        "disconnectionObject": orjson.dumps(last).decode(),
    }


def inbound(
    state: SimState, instance: Instance, sender: str, text: str, push_name: str
) -> dict[str, Any]:
    """A customer's text as the messages.upsert handler's messageRaw; emitted and returned."""
    message = {
        "key": {
            "remoteJid": f"{sender}@s.whatsapp.net",
            "fromMe": False,
            # 32 characters: the id of a message from an Android phone.
            "id": f"A{state.hook_rng.getrandbits(124):031X}",
        },
        "pushName": push_name,
        # prepareMessage gives a received message without a status DELIVERY_ACK.
        "status": "DELIVERY_ACK",
        "message": {"conversation": text},
        "messageType": "conversation",
        "messageTimestamp": int(time.time()),
        "instanceId": instance.id,
        "source": "android",
    }
    emit(state, instance, "messages.upsert", message)
    return message
