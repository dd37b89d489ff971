"""Everything the simulator remembers: config, instances, send counters, accepted sends and the
webhook dispatcher.

A reset starts a new *generation*: requests that arrived before it (a request hung by
timeout_rate, say) finish without touching the new counters, and webhook events scheduled before
it are never posted, so one test cannot leak into the next.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from itertools import islice
from typing import Any

from service.sim.config import Knobs, SimConfig, effective_knobs
from service.sim.delivery import Dispatcher
from service.sim.hooks import store
from service.sim.jid import create_jid, digits_of
from service.sim.model import Instance, Message

#: Accepted sends kept for GET /_sim/messages: about 20 min at 200 msg/s, ~100 MB at most.
MAX_MESSAGES = 250_000
_CUID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        #: Receipt draws and inbound ids: separate, so webhooks never shift the failure draws.
        self.hook_rng = random.Random(config.seed)
        self.instances: dict[str, Instance] = {}
        self.messages: deque[Message] = deque(maxlen=MAX_MESSAGES)
        self.webhooks = Dispatcher(lambda: self.config)
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
            self.hook_rng.seed(config.seed)
        if rebuild_instances:
            self.instances = {}
            for name, token in config.instances.items():
                self.add_instance(Instance(name, token, self.new_uuid(), self.knobs({})))
        else:
            for instance in self.instances.values():
                instance.knobs = self.knobs(instance.overrides)

    def knobs(self, overrides: dict[str, Any]) -> Knobs:
        """The effective Knobs for these overrides (raises pydantic.ValidationError)."""
        return effective_knobs(self.config, overrides)

    def add_instance(self, instance: Instance) -> None:
        self.instances[instance.name] = instance
        if self.config.webhook_url and instance.hook is None:
            webhook = {"enabled": True, "url": self.config.webhook_url, "events": []}
            store(instance, webhook, self.new_cuid)

    def reset(self, config: SimConfig | None = None) -> None:
        """New generation: counters, messages and webhook deliveries cleared, instances back to
        the configured ones (no overrides), the random generators re-seeded; ``config``
        replaces the current one when given."""
        self.config = config or self.config
        self.rng.seed(self.config.seed)
        self.hook_rng.seed(self.config.seed)
        self.webhooks.reset()
        self.apply(self.config, rebuild_instances=True)
        self.generation += 1
        self.received = 0
        self.by_status: dict[int, int] = {}
        self.accepted = 0
        self.duplicates = 0
        self.in_flight = 0
        self.max_in_flight = 0
        # hash((number, text)) of every accepted send (with the file's fields for media): 8-byte
        # ints keep an hour at 200 msg/s (720,000 sends) to about 50 MB; a 64-bit collision is
        # not a practical concern.
        self._seen: set[int] = set()
        self.messages.clear()

    # -- send bookkeeping -------------------------------------------------------------------------

    def begin(self, instance: Instance | None) -> int:
        self.received += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if instance is not None:
            instance.counters.received += 1
        return self.generation

    def end(self, generation: int, status: int | None, instance: Instance | None) -> None:
        """``status`` None: the request was cancelled (server shutdown) and got no answer."""
        if generation != self.generation:
            return
        self.in_flight -= 1
        if status is not None:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if instance is not None:
                by_status = instance.counters.by_status
                by_status[status] = by_status.get(status, 0) + 1

    def accept(self, generation: int, message: Message, instance: Instance) -> None:
        if generation != self.generation:
            return
        self.accepted += 1
        instance.counters.accepted += 1
        fingerprint = hash((message.number, message.text))
        if message.media is not None:  # two files with one caption are two messages
            fingerprint = hash((fingerprint, *message.media.values()))
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
            "by_instance": {name: i.counters.as_dict() for name, i in self.instances.items()},
            "webhooks": self.webhooks.stats(),
        }

    def message_page(self, offset: int, limit: int | None) -> list[dict[str, Any]]:
        stop = None if limit is None else offset + limit
        return [message.as_dict() for message in islice(self.messages, offset, stop)]

    # -- draws ------------------------------------------------------------------------------------

    def is_invalid(self, number: str, jid: str) -> bool:
        """Not on WhatsApp: listed in invalid_numbers (by digits, either form), or no digits."""
        key = _recipient_key(number)
        return not key or key in self._invalid or _recipient_key(jid) in self._invalid

    def new_key_id(self) -> str:
        """Baileys' web message id: "3EB0" + 36 upper-case hex digits (40 characters)."""
        return f"3EB0{self.rng.getrandbits(144):036X}"

    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_cuid(self) -> str:
        """A Prisma cuid() look-alike: "c" and 24 lower-case base-36 characters."""
        return "c" + "".join(self.hook_rng.choice(_CUID_ALPHABET) for _ in range(24))


def _recipient_key(value: str) -> str:
    """Digits of a number or of a JID's user part ("5511...@s.whatsapp.net" -> "5511...")."""
    return digits_of(value.split("@", 1)[0])
