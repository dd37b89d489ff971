"""Evolution's webhooks in: who may post them, and what each event changes.

Evolution signs nothing; it sends the headers configured for the instance's webhook. zapq takes
``Authorization: Bearer <evolution.webhook_token>``, or the HS256 JWT Evolution makes from a
``jwt_key`` header (payload ``{iat, exp: iat + 600, app, action}``), signed with that token and
checked for ``exp``. The shapes are Evolution 2.3's (``messages.update`` data is flat:
``{keyId, remoteJid, fromMe, status, ...}``); v1's ``{id, status}`` receipts are read too.

Each event is one Redis script (receipt.lua, inbound.lua) except ``connection.update``, which is
rare and goes through the sender registry.
"""

from __future__ import annotations

import hmac
import logging
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from service import metrics
from service.logging import mask_phone
from service.phones import normalize_phone
from service.queue.models import Connection, Status, now_ms
from service.queue.receipts import Lifecycle, Receipt, ReceiptResult
from service.senders.registry import SenderRegistry
from service.settings import Settings

log = logging.getLogger("zapq.webhooks")

#: Evolution's receipt statuses (renderStatus: 0 ERROR ... 5 PLAYED) as zapq statuses; PENDING and
#: DELETED say nothing about delivery.
ACK_STATUS: dict[str, Status] = {
    "ERROR": Status.FAILED,
    "SERVER_ACK": Status.ACKNOWLEDGED,
    "DELIVERY_ACK": Status.DELIVERED,
    "READ": Status.READ,
    "PLAYED": Status.READ,
}
_RENDER_STATUS = ("ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")
#: The events zapq reads; any other is acknowledged and counted as "other".
KNOWN_EVENTS = frozenset({"messages.update", "messages.upsert", "connection.update"})
_CONNECTION = {"open": Connection.OPEN, "close": Connection.CLOSE, "refused": Connection.CLOSE}
_TRIM = string.whitespace + string.punctuation + "¡¿…"


class WebhookAuth:
    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def allows(self, authorization: str | None) -> bool:
        """``Bearer <token>`` (compared in constant time) or ``Bearer <JWT signed with it>``."""
        scheme, _, credential = (authorization or "").partition(" ")
        if not self._token or scheme.lower() != "bearer" or not credential:
            return False
        if hmac.compare_digest(credential.encode(), self._token):
            return True
        if credential.count(".") != 2:
            return False
        try:
            jwt.decode(credential, self._token, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.InvalidTokenError:
            return False
        return True


def event_name(envelope: dict[str, Any], path_event: str | None) -> str:
    """The dotted event name: the envelope's, else the byEvents path's (messages-update)."""
    name = envelope.get("event")
    if isinstance(name, str) and name:
        return name.lower()
    return (path_event or "").replace("-", ".").lower()


def receipts_of(data: Any) -> list[Receipt]:
    """The receipts of a messages.update's data (one object; a list is read item by item)."""
    found = []
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict) or item.get("fromMe") is False:
            continue  # receipts of the customer's own messages
        key = item.get("key")
        key_id = item.get("keyId") or (key.get("id") if isinstance(key, dict) else item.get("id"))
        raw = item.get("status")
        name = _RENDER_STATUS[raw] if isinstance(raw, int) and 0 <= raw < 6 else str(raw)
        status = ACK_STATUS.get(name)
        if isinstance(key_id, str) and key_id and status is not None:
            found.append(Receipt(key_id, status, name if status is Status.FAILED else ""))
    return found


@dataclass(frozen=True, slots=True)
class Inbound:
    phone: str
    text: str | None
    push_name: str | None
    provider_id: str | None


def phone_of_jid(jid: str, region: str) -> str | None:
    """A person's JID as zapq stores numbers, or None. WhatsApp keeps Brazilian mobiles of area
    codes 31+ without their ninth digit (Evolution's createJid drops it to send): it is put back,
    so that an opt-out matches the number messages are sent to."""
    user, _, domain = jid.partition("@")
    if domain != "s.whatsapp.net":
        return None
    digits = user.split(":", 1)[0]
    if len(digits) == 12 and digits.startswith("55") and digits[4] in "6789":
        digits = digits[:4] + "9" + digits[4:]
    try:
        return normalize_phone("+" + digits, region)
    except ValueError:
        return None


def inbound_of(data: Any, region: str) -> Inbound | None:
    """A customer's message from a messages.upsert's data (None: ours, a group's, unreadable)."""
    key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(key, dict) or key.get("fromMe") is not False:
        return None
    jid = key.get("remoteJid") or ""
    if isinstance(jid, str) and jid.endswith("@lid"):  # a hidden number: its phone JID beside it
        jid = key.get("remoteJidAlt") or key.get("senderPn") or ""
    phone = phone_of_jid(jid, region) if isinstance(jid, str) else None
    if phone is None:
        return None
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    extended = message.get("extendedTextMessage")
    text = message.get("conversation") or (
        extended.get("text") if isinstance(extended, dict) else None
    )
    name = data.get("pushName")
    return Inbound(
        phone,
        text if isinstance(text, str) else None,
        name if isinstance(name, str) else None,
        key.get("id") if isinstance(key.get("id"), str) else None,
    )


def fold(text: str) -> str:
    """Case, accents and the spaces and punctuation around it ignored: " Não! " -> "nao"."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return plain.casefold().strip(_TRIM)


@lru_cache(maxsize=8)
def _keywords(keywords: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(keyword) for keyword in keywords)


def is_opt_out(text: str | None, keywords: tuple[str, ...]) -> bool:
    """The whole message is one of the opt-out keywords."""
    return bool(text) and fold(text or "") in _keywords(keywords)


class EvolutionHooks:
    """What each Evolution event does; built per request (it only holds references)."""

    def __init__(self, lifecycle: Lifecycle, registry: SenderRegistry, settings: Settings) -> None:
        self.lifecycle = lifecycle
        self.registry = registry
        self.settings = settings

    async def handle(self, event: str, envelope: dict[str, Any]) -> list[str]:
        """Apply one event; returns what became of it (per receipt for messages.update)."""
        data = envelope.get("data")
        if event == "messages.update":
            outcomes = [self._observe(r) for r in await self.lifecycle.receipts(receipts_of(data))]
        elif event == "messages.upsert":
            outcomes = [await self._inbound(data, envelope.get("instance"))]
        elif event == "connection.update":
            outcomes = [await self._connection(data, envelope.get("instance"))]
        else:
            outcomes = []
        label = event if event in KNOWN_EVENTS else "other"
        for outcome in outcomes or ["ignored"]:
            metrics.WEBHOOK_EVENTS.labels(label, outcome).inc()
        return outcomes or ["ignored"]

    @staticmethod
    def _observe(result: ReceiptResult) -> str:
        if result.outcome == "applied" and result.status is not None:
            metrics.RECEIPTS.labels(result.status).inc()
            age = (now_ms() - result.sent_at_ms) / 1000 if result.sent_at_ms else None
            if age is not None and result.status == Status.DELIVERED:
                metrics.SENT_TO_DELIVERED.observe(age)
            elif age is not None and result.status == Status.READ:
                metrics.SENT_TO_READ.observe(age)
        return result.outcome

    async def _inbound(self, data: Any, instance: Any) -> str:
        message = inbound_of(data, self.settings.messages.default_region)
        if message is None:
            return "ignored"
        cfg = self.settings.callbacks
        opt_out = is_opt_out(message.text, tuple(cfg.opt_out_keywords))
        forward = {
            "text": message.text,
            "push_name": message.push_name,
            "instance": instance if isinstance(instance, str) else None,
            "provider_message_id": message.provider_id,
            "opted_out": opt_out,
        }
        how = {"source": "keyword", "keyword": message.text or ""} if opt_out else None
        result = await self.lifecycle.inbound(
            message.phone,
            url=cfg.inbound_url or cfg.default_url,
            opt_out=how,
            forward=forward if cfg.forward_inbound else None,
        )
        if result.suppressed:
            metrics.OPT_OUTS.labels("keyword").inc()
            log.info("opted out by keyword", extra={"to": mask_phone(message.phone)})
        return "opted_out" if opt_out else "received"

    async def _connection(self, data: Any, instance: Any) -> str:
        state = _CONNECTION.get(str(data.get("state"))) if isinstance(data, dict) else None
        if state is None or not isinstance(instance, str):
            return "ignored"
        names = [s.name for s in await self.registry.all() if s.instance == instance]
        for name in names:
            await self.registry.set_connection(name, state)
        log.log(
            logging.WARNING if state is Connection.CLOSE else logging.INFO,
            f"sender connection {state}",
            extra={"instance": instance, "senders": names},
        )
        return "applied" if names else "unknown"
