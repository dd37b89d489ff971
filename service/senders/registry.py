"""The sender registry: which WhatsApp numbers (Evolution instances) the pool sends through.

One small interface over Redis, written by the API, the CLI, start-up (``ZAPQ_SENDERS``) and the
kopf operator, read by every worker. Each write is one script (sender_put.lua, sender_delete.lua)
that also bumps the registry's version, which workers see in their next take and reload on.

Two halves per sender: the routing fields the scripts decide with (rate, burst, daily limit,
paused, connection; P:sender:{name}) and Python's config (instance, Evolution URL and key, time
zone; one JSON value in P:senders). Unset config fields fall back to ZAPQ_EVOLUTION__* and
ZAPQ_POOL__TIME_ZONE when read, so changing those moves every sender that did not set its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson
from pydantic import SecretStr

from service.queue.models import Breaker, Connection
from service.queue.store import MessageQueue
from service.settings import SenderSpec, Settings

# Parked jobs a registry write hands back to the queue in its own call; the promoter moves the rest
# (a bounded script keeps Redis responsive).
_UNPARK_LIMIT = 10_000

Mode = Literal["bootstrap", "put", "patch"]


@dataclass(frozen=True, slots=True)
class Sender:
    """A sender with its defaults resolved."""

    name: str
    instance: str
    base_url: str
    api_key: SecretStr
    #: True when the sender has a key of its own (not ZAPQ_EVOLUTION__API_KEY).
    own_api_key: bool
    rate_per_second: float
    burst: int
    daily_limit: int | None
    time_zone: str
    paused: bool
    #: Evolution's last word on the session (connection.update): "close" stops routing to it.
    connection: Connection


@dataclass(frozen=True, slots=True)
class SenderState:
    """A sender and what the pool knows of its health, for people (GET /v1/senders, metrics)."""

    sender: Sender
    breaker: Breaker
    opened_at_ms: int | None
    #: Send attempts booked today (in the sender's time zone), against its daily limit.
    today: int
    last_error_class: str | None
    last_error_at_ms: int | None
    last_success_at_ms: int | None
    sends_last_minute: int
    #: Messages pinned to it that wait for it (paused, breaker open, daily limit).
    parked: int


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(time_zone: str, now: datetime | None = None) -> str:
    """The date (YYYY-MM-DD) in ``time_zone``: the day of a sender's daily limit."""
    return (now or datetime.now(UTC)).astimezone(_zone(time_zone)).date().isoformat()


def days(senders: Sequence[Sender], now: datetime | None = None) -> dict[str, str]:
    """Each sender's local date now: what take.lua and promote.lua count daily limits by."""
    moment = now or datetime.now(UTC)
    return {sender.name: local_day(sender.time_zone, moment) for sender in senders}


def _config(spec: SenderSpec) -> bytes:
    return orjson.dumps(
        {
            "instance": spec.instance,
            "base_url": spec.base_url,
            "api_key": spec.api_key.get_secret_value() if spec.api_key else None,
            "time_zone": spec.time_zone,
        }
    )


def _routing(spec: SenderSpec) -> dict[str, Any]:
    return {
        "rate": spec.rate_per_second,
        "burst": spec.burst,
        "daily_limit": spec.daily_limit or 0,
        "paused": int(spec.paused),
    }


def _text(raw: bytes | None) -> str | None:
    return raw.decode() if raw else None


def _int(raw: bytes | None) -> int | None:
    return int(float(raw)) if raw else None


class SenderRegistry:
    def __init__(self, queue: MessageQueue) -> None:
        self.redis = queue.redis
        self.keys = queue.keys
        self.scripts = queue.scripts
        self.settings: Settings = queue.settings

    # -- writes ---------------------------------------------------------------------------------

    async def bootstrap(self) -> None:
        """Write ``ZAPQ_SENDERS`` (or the one sender of ZAPQ_EVOLUTION__*, into an empty registry)
        for the senders the registry does not have yet: what the API or the operator changed since
        is never undone by a restart."""
        if self.settings.senders:
            for spec in self.settings.senders:
                await self.put(spec, mode="bootstrap")
        elif not await self.redis.exists(self.keys.senders):
            await self.put(self.default_spec(), mode="bootstrap")

    def default_spec(self) -> SenderSpec:
        """Today's single-number setup: one sender named after ZAPQ_EVOLUTION__INSTANCE."""
        return SenderSpec(name=self.settings.evolution.instance)

    async def put(self, spec: SenderSpec, *, mode: Mode = "put") -> bool:
        """Create or replace (``mode="put"``); True when it was created."""
        result = await self.scripts.sender_put(
            [spec.name, _config(spec), orjson.dumps(_routing(spec)), mode, _UNPARK_LIMIT]
        )
        return bool(result["created"])

    async def patch(self, name: str, **fields: Any) -> bool:
        """Change routing fields of an existing sender (paused, connection, rate, burst,
        daily_limit); False when it does not exist."""
        result = await self.scripts.sender_put(
            [name, "", orjson.dumps(fields), "patch", _UNPARK_LIMIT]
        )
        return bool(result["written"])

    async def set_paused(self, name: str, paused: bool) -> bool:
        return await self.patch(name, paused=int(paused))

    async def set_connection(self, name: str, state: Connection) -> bool:
        return await self.patch(name, connection=str(state))

    async def delete(self, name: str) -> bool:
        result = await self.scripts.sender_delete([name, _UNPARK_LIMIT])
        return bool(result["deleted"])

    # -- reads ----------------------------------------------------------------------------------

    async def in_flight(self, name: str) -> int:
        """Messages being sent through ``name`` now: the jobs in P:inflight whose message
        take.lua routed to it. One ZRANGE and one pipelined HGET per in-flight job (at most
        workers x max_jobs), so a delete can wait for a paused sender to drain."""
        jobs: list[bytes] = await self.redis.zrange(self.keys.inflight, 0, -1)
        if not jobs:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.hget(self.keys.message(self.keys.message_id_of(job.decode())), "sender")
            senders = await pipe.execute()
        return sum(1 for sender in senders if sender == name.encode())

    async def version(self) -> int:
        return int(await self.redis.get(self.keys.senders_version) or 0)

    async def names(self) -> list[str]:
        return sorted(raw.decode() for raw in await self.redis.hkeys(self.keys.senders))  # type: ignore[misc]

    async def all(self) -> list[Sender]:
        configs: dict[bytes, bytes] = await self.redis.hgetall(self.keys.senders)  # type: ignore[misc]
        names = sorted(raw.decode() for raw in configs)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(
                    self.keys.sender(name), ["rate", "burst", "daily_limit", "paused", "connection"]
                )
            rows = await pipe.execute()
        return [
            self._sender(name, configs[name.encode()], row)
            for name, row in zip(names, rows, strict=True)
            if row[0] is not None
        ]

    async def get(self, name: str) -> Sender | None:
        return next((sender for sender in await self.all() if sender.name == name), None)

    def _sender(self, name: str, raw_config: bytes, row: list[bytes | None]) -> Sender:
        config = orjson.loads(raw_config)
        evolution = self.settings.evolution
        api_key = config.get("api_key")
        rate, burst, daily_limit, paused, connection = row
        return Sender(
            name=name,
            instance=config.get("instance") or name,
            base_url=config.get("base_url") or evolution.base_url,
            api_key=SecretStr(api_key) if api_key else evolution.api_key,
            own_api_key=bool(api_key),
            rate_per_second=float(rate or 0),
            burst=int(burst or 1),
            daily_limit=int(daily_limit) if daily_limit and int(daily_limit) > 0 else None,
            time_zone=config.get("time_zone") or self.settings.pool.time_zone,
            paused=paused == b"1",
            connection=Connection(connection.decode()) if connection else Connection.OPEN,
        )

    async def states(self, now_ms: int) -> list[SenderState]:
        """Every sender with its health, at ``now_ms``."""
        senders = await self.all()
        today = days(senders, datetime.fromtimestamp(now_ms / 1000, UTC))
        fields = (
            "breaker",
            "opened_at",
            "day",
            "day_count",
            "last_error_class",
            "last_error_at",
            "last_success_at",
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for sender in senders:
                pipe.hmget(self.keys.sender(sender.name), list(fields))
                pipe.hgetall(self.keys.sender_minute(sender.name))
                pipe.zcard(self.keys.parked(sender.name))
            rows = await pipe.execute()
        return [
            self._state(sender, rows[3 * i : 3 * i + 3], today.get(sender.name), now_ms)
            for i, sender in enumerate(senders)
        ]

    def _state(
        self, sender: Sender, rows: list[Any], today: str | None, now_ms: int
    ) -> SenderState:
        """One sender's health from its pipelined rows: its hash fields, its minute, its parked."""
        row, minute, parked = rows
        breaker, opened_at, day, day_count, error_class, error_at, success_at = row
        state = Breaker(breaker.decode()) if breaker else Breaker.CLOSED
        open_ms = int(self.settings.pool.breaker_open_seconds * 1000)
        if state is Breaker.OPEN and opened_at and now_ms >= int(opened_at) + open_ms:
            state = Breaker.HALF_OPEN  # take.lua moves it on its next look
        second = now_ms // 1000
        recent = sum(
            int(minute.get(b"c%d" % slot, b"0"))
            for slot in range(60)
            if second - 60 < int(minute.get(b"t%d" % slot, b"0")) <= second
        )
        return SenderState(
            sender=sender,
            breaker=state,
            opened_at_ms=_int(opened_at) if state is not Breaker.CLOSED else None,
            today=int(day_count or 0) if today is not None and _text(day) == today else 0,
            last_error_class=_text(error_class),
            last_error_at_ms=_int(error_at),
            last_success_at_ms=_int(success_at),
            sends_last_minute=recent,
            parked=parked,
        )
