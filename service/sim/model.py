"""What the simulator keeps per instance and per accepted send.

An Instance carries everything the send path reads, precomputed (its effective knobs, its
counters, its webhook), so a send costs the same whatever the number of instances or webhooks.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from service.sim.config import Knobs
from service.sim.validation import SETTING_FLAGS


def iso_now() -> str:
    """Prisma's DateTime as JSON: UTC with milliseconds and a Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instance_settings(body: Mapping[str, Any]) -> dict[str, Any]:
    """An instance's settings as create stores them: only a literal true turns a flag on."""
    settings: dict[str, Any] = {key: body.get(key) is True for key in SETTING_FLAGS}
    settings["msgCall"] = body.get("msgCall") or ""
    settings["wavoipToken"] = body.get("wavoipToken") or ""
    return settings


def owner_jid(name: str) -> str:
    """A stable fake WhatsApp JID for an instance: the same name gives the same number in every
    run (a Brazilian mobile, 13 digits)."""
    return f"55119{zlib.crc32(name.encode()) % 10**8:08d}@s.whatsapp.net"


@dataclass(slots=True)
class Counters:
    """Sends to one instance (GET /_sim/stats ``by_instance``)."""

    received: int = 0
    accepted: int = 0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        by_status = {str(status): n for status, n in sorted(self.by_status.items())}
        return {"received": self.received, "accepted": self.accepted, "by_status": by_status}


@dataclass(slots=True)
class Hook:
    """An instance's webhook: the Prisma Webhook row, plus what delivery needs precomputed."""

    row: dict[str, Any]
    #: UPPER_SNAKE event names it posts; empty when disabled (Evolution stores [] then).
    events: frozenset[str]
    #: Only URLs matching ^https?:// are ever posted to (the URL is not checked on set).
    postable: bool
    url: str
    #: webhookByEvents: post to ${url}/${kebab-event} instead of ${url}.
    by_events: bool
    #: axios' defaults and the row's headers, ``jwt_key`` taken out.
    headers: dict[str, str]
    #: When set, each event gets ``Authorization: Bearer <HS256 JWT signed with it>``.
    jwt_key: str | None

    def wants(self, config_name: str) -> bool:
        return self.postable and config_name in self.events


@dataclass(slots=True)
class Instance:
    name: str
    token: str | None
    id: str
    knobs: Knobs
    state: str = "open"
    integration: str = "WHATSAPP-BAILEYS"
    number: str | None = None
    #: A never-connected instance has no socket: sends fail with a TypeError, not "Closed".
    ever_open: bool = True
    #: The half-dead socket switch: every send answers 400 Connection Closed, state stays.
    connection_closed: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    hook: Hook | None = None
    settings: dict[str, Any] = field(default_factory=lambda: instance_settings({}))
    disconnection: tuple[int, str] | None = None  # (reason code, at) of the last logout
    #: Bumped on every state change: a pending "connecting -> open" of an older one is void.
    session: int = 0
    #: The last QR code issued (Evolution's instance.qrcode, {count: 0} before the first).
    qr: dict[str, Any] = field(default_factory=lambda: {"count": 0})
    created_at: str = field(default_factory=iso_now)
    updated_at: str = field(default_factory=iso_now)

    @property
    def wuid(self) -> str | None:
        """The instance's own JID, known once it has connected (the envelope's ``sender``)."""
        return owner_jid(self.name) if self.ever_open else None

    def set_state(self, state: str) -> None:
        self.state = state
        self.ever_open = self.ever_open or state == "open"
        self.updated_at = iso_now()

    def describe(self) -> dict[str, Any]:
        """GET /_sim/instances: effective knobs, state, switches, counters and webhook."""
        return {
            "name": self.name,
            "id": self.id,
            "token": self.token,
            "state": self.state,
            "ownerJid": self.wuid,
            "connection_closed": self.connection_closed,
            **self.knobs.model_dump(),
            "overrides": dict(self.overrides),
            "counters": self.counters.as_dict(),
            "webhook": None if self.hook is None else self.hook.row,
        }


@dataclass(slots=True)
class Message:
    number: str
    text: str
    key_id: str
    remote_jid: str
    received_at: float
    instance: str
    #: For media: mediatype, mimetype, fileName, caption, media_length (never the body).
    media: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        item = {
            "number": self.number,
            "text": self.text,
            "key_id": self.key_id,
            "remote_jid": self.remote_jid,
            "received_at": self.received_at,
            "instance": self.instance,
            "kind": "text" if self.media is None else "media",
        }
        return item if self.media is None else {**item, **self.media}
