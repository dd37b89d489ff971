"""Everything the simulator remembers: config, instances, sendText counters and accepted sends.

A reset starts a new *generation*: requests that arrived before it (a request hung by
timeout_rate, say) finish without touching the new counters, so one test cannot leak into the
next.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from service.sim.config import SimConfig
from service.sim.jid import create_jid, digits_of
from service.sim.validation import SETTING_FLAGS

#: Accepted sends kept for GET /_sim/messages: about 20 min at 200 msg/s, ~100 MB at most.
MAX_MESSAGES = 250_000


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instance_settings(body: Mapping[str, Any]) -> dict[str, Any]:
    """An instance's settings as create stores them: only a literal true turns a flag on."""
    settings: dict[str, Any] = {key: body.get(key) is True for key in SETTING_FLAGS}
    settings["msgCall"] = body.get("msgCall") or ""
    settings["wavoipToken"] = body.get("wavoipToken") or ""
    return settings


@dataclass(slots=True)
class Instance:
    name: str
    token: str | None
    id: str
    state: str = "open"
    integration: str = "WHATSAPP-BAILEYS"
    number: str | None = None
    #: A never-connected instance has no socket: sends fail with a TypeError, not "Closed".
    ever_open: bool = True
    settings: dict[str, Any] = field(default_factory=lambda: instance_settings({}))
    created_at: str = field(default_factory=_iso_now)
    updated_at: str = field(default_factory=_iso_now)

    def set_state(self, state: str) -> None:
        self.state = state
        self.ever_open = self.ever_open or state == "open"
        self.updated_at = _iso_now()


@dataclass(slots=True)
class Message:
    number: str
    text: str
    key_id: str
    remote_jid: str
    received_at: float
    instance: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "text": self.text,
            "key_id": self.key_id,
            "remote_jid": self.remote_jid,
            "received_at": self.received_at,
            "instance": self.instance,
        }


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.instances: dict[str, Instance] = {}
        self.messages: deque[Message] = deque(maxlen=MAX_MESSAGES)
        self.generation = 0
        self._invalid: frozenset[str] = frozenset()
        self.reset()

    # -- configuration ----------------------------------------------------------------------------

    def apply(self, config: SimConfig, *, rebuild_instances: bool) -> None:
        seed_changed = config.seed != self.config.seed
        self.config = config
        # Both forms of each number, as Evolution checks BR/MX/AR numbers with and without the
        # extra digit.
        forms = [(_recipient_key(n), _recipient_key(create_jid(n))) for n in config.invalid_numbers]
        self._invalid = frozenset(key for pair in forms for key in pair if key)
        if seed_changed:
            self.rng.seed(config.seed)
        if rebuild_instances:
            self.instances = {
                name: Instance(name, token, self.new_uuid())
                for name, token in config.instances.items()
            }

    def reset(self, config: SimConfig | None = None) -> None:
        """New generation: counters and messages cleared, instances back to the configured ones,
        the random generator re-seeded; ``config`` replaces the current one when given."""
        self.config = config or self.config
        self.rng.seed(self.config.seed)
        self.apply(self.config, rebuild_instances=True)
        self.generation += 1
        self.received = 0
        self.by_status: dict[int, int] = {}
        self.accepted = 0
        self.duplicates = 0
        self.in_flight = 0
        self.max_in_flight = 0
        # hash((number, text)) of every accepted send: 8-byte ints keep an hour at 200 msg/s
        # (720,000 sends) to about 50 MB; a 64-bit collision is not a practical concern.
        self._seen: set[int] = set()
        self.messages.clear()

    # -- sendText bookkeeping ---------------------------------------------------------------------

    def begin(self) -> int:
        self.received += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self.generation

    def end(self, generation: int, status: int | None) -> None:
        """``status`` None: the request was cancelled (server shutdown) and got no answer."""
        if generation != self.generation:
            return
        self.in_flight -= 1
        if status is not None:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def accept(self, generation: int, message: Message) -> None:
        if generation != self.generation:
            return
        self.accepted += 1
        fingerprint = hash((message.number, message.text))
        if fingerprint in self._seen:
            self.duplicates += 1
        else:
            self._seen.add(fingerprint)
        self.messages.append(message)

    def stats(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "by_status": {str(status): n for status, n in sorted(self.by_status.items())},
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    def message_page(self, offset: int, limit: int | None) -> list[dict[str, Any]]:
        stop = None if limit is None else offset + limit
        return [message.as_dict() for message in islice(self.messages, offset, stop)]

    # -- draws ------------------------------------------------------------------------------------

    def is_invalid(self, number: str, jid: str) -> bool:
        """Not on WhatsApp: listed in invalid_numbers (by digits, either form), or no digits."""
        key = _recipient_key(number)
        return not key or key in self._invalid or _recipient_key(jid) in self._invalid

    def latency_seconds(self) -> float:
        config = self.config
        if not config.latency_jitter_ms:
            return config.latency_ms / 1000
        spread = self.rng.uniform(-config.latency_jitter_ms, config.latency_jitter_ms)
        return max(0.0, config.latency_ms + spread) / 1000

    def new_key_id(self) -> str:
        """Baileys' web message id: "3EB0" + 36 upper-case hex digits (40 characters)."""
        return f"3EB0{self.rng.getrandbits(144):036X}"

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _recipient_key(value: str) -> str:
    """Digits of a number or of a JID's user part ("5511...@s.whatsapp.net" -> "5511...")."""
    return digits_of(value.split("@", 1)[0])
