"""A WhatsAppInstance's sender in zapq's registry, kept level-triggered: each run compares what the
registry holds with what the resource and Evolution say, and writes only a difference (every
registry write makes every worker reload the pool).

The resource is the source of truth for the senders it manages: a pause through the API or
`zapq senders pause` lasts until the next tick; pause with ``spec.paused`` instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr

from service.operator.resource import InstanceSpec
from service.queue.models import Connection
from service.senders.registry import Sender, SenderRegistry
from service.settings import SenderSpec

TokenSource = Callable[[], Awaitable[SecretStr]]
_CONNECTION = {"open": Connection.OPEN, "connecting": Connection.CONNECTING}


def connection_of(state: str) -> Connection:
    """Evolution's state as the registry's: anything but open or connecting stops routing."""
    return _CONNECTION.get(state, Connection.CLOSE)


@dataclass(frozen=True, slots=True)
class Desired:
    name: str
    base_url: str
    spec: InstanceSpec
    paused: bool
    connection: Connection

    def sender_spec(self, token: SecretStr) -> SenderSpec:
        spec = self.spec
        return SenderSpec(
            name=self.name,
            instance=self.name,
            base_url=self.base_url,
            api_key=token,
            rate_per_second=spec.rate_per_second,
            burst=spec.burst,
            daily_limit=spec.daily_limit,
            time_zone=spec.time_zone,
            paused=self.paused,
        )


def _differs(sender: Sender, desired: Desired, registry: SenderRegistry) -> bool:
    spec = desired.spec
    zone = spec.time_zone or registry.settings.pool.time_zone
    return (
        sender.base_url != desired.base_url
        or not sender.own_api_key
        or sender.rate_per_second != spec.rate_per_second
        or sender.burst != spec.burst
        or sender.daily_limit != spec.daily_limit
        or sender.time_zone != zone
        or sender.paused != desired.paused
    )


async def sync(registry: SenderRegistry, desired: Desired, token: TokenSource) -> bool:
    """Make the registry hold ``desired``; True when something was written. ``token`` gives the
    instance's own key, asked for only when the sender is missing or has none of its own."""
    sender = await registry.get(desired.name)
    wrote = False
    if sender is None or _differs(sender, desired, registry):
        own = sender is not None and sender.own_api_key
        key = sender.api_key if sender is not None and own else await token()
        await registry.put(desired.sender_spec(key))
        wrote = True
    if sender is None or sender.connection != desired.connection:
        await registry.set_connection(desired.name, desired.connection)
        wrote = True
    return wrote


async def sends_today(registry: SenderRegistry, name: str) -> int | None:
    """Sends booked today (in the sender's time zone) against its daily limit."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    for state in await registry.states(now_ms):
        if state.sender.name == name:
            return state.today
    return None
