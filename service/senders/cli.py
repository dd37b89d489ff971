"""`zapq senders`: the sender pool from a terminal, over the registry in Redis (the same data and
writes as GET /v1/senders and POST /v1/senders/{name}/pause|resume, without an API key).

    zapq senders list            a table: name, instance, rate, burst, today / daily limit,
                                 paused, breaker, last error, sends in the last minute
    zapq senders list --json     one JSON array with the fields of GET /v1/senders
    zapq senders pause NAME      no new sends through it: in-flight sends finish, messages pinned
                                 to it wait (parked); workers see it at their next take
    zapq senders resume NAME     routes to it again and hands its parked messages back

An unknown sender exits 1, Redis unreachable exits 1, invalid settings exit 2 (config_errors).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.metrics.queue import available
from service.queue.models import now_ms
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.senders import qr
from service.senders.registry import SenderRegistry, SenderState
from service.settings import SENDER_NAME_PATTERN, Settings
from service.status import duration

EXIT_FAILED = 1
_COLUMNS = (
    "name",
    "instance",
    "rate/s",
    "burst",
    "today/limit",
    "paused",
    "breaker",
    "last error",
    "last min",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every sender with its limits and health")
    listing.add_argument("--json", action="store_true", help="a JSON array (GET /v1/senders)")
    for action, what in (("pause", "stop routing to"), ("resume", "route again to")):
        sub = actions.add_parser(action, help=f"{what} a sender")
        sub.add_argument("name", type=_sender_name, help="the sender's name")
    qr.add_arguments(
        actions.add_parser("qr", help="draw a sender's QR code (or pairing code) to connect it")
    )


def _sender_name(value: str) -> str:
    if not re.fullmatch(SENDER_NAME_PATTERN, value):
        raise argparse.ArgumentTypeError(
            "not a sender name (letters, digits, '.', '_', '-'; at most 63 characters)"
        )
    return value


def _iso(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms is not None else None


def as_dict(state: SenderState) -> dict[str, Any]:
    """One sender as GET /v1/senders shows it (never its API key: only whether it has one)."""
    sender = state.sender
    return {
        "name": sender.name,
        "instance": sender.instance,
        "base_url": sender.base_url,
        "own_api_key": sender.own_api_key,
        "rate_per_second": sender.rate_per_second,
        "burst": sender.burst,
        "daily_limit": sender.daily_limit,
        "today": state.today,
        "time_zone": sender.time_zone,
        "paused": sender.paused,
        "connection": str(sender.connection),
        "available": available(state),
        "breaker": str(state.breaker),
        "breaker_opened_at": _iso(state.opened_at_ms),
        "last_error_class": state.last_error_class,
        "last_error_at": _iso(state.last_error_at_ms),
        "last_success_at": _iso(state.last_success_at_ms),
        "sends_last_minute": state.sends_last_minute,
        "parked": state.parked,
    }


def row(state: SenderState, now: int) -> tuple[str, ...]:
    sender = state.sender
    limit = f"{sender.daily_limit:,}" if sender.daily_limit is not None else "-"
    error = "-"
    if state.last_error_class:
        ago = (now - (state.last_error_at_ms or now)) / 1000
        error = f"{state.last_error_class} {duration(ago)} ago"
    return (
        sender.name,
        sender.instance,
        f"{sender.rate_per_second:g}",
        str(sender.burst),
        f"{state.today:,}/{limit}",
        "yes" if sender.paused else "no",
        str(state.breaker).replace("_", " "),
        error,
        f"{state.sends_last_minute:,}",
    )


def table(states: list[SenderState], now: int) -> list[str]:
    """Aligned columns, a header first; numbers right-aligned."""
    if not states:
        return ["no senders in the pool (zapq api and zapq worker write them at start-up)"]
    rows = [tuple(c.upper() for c in _COLUMNS), *(row(state, now) for state in states)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    right = {2, 3, 4, 8}
    return [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]


async def list_senders(registry: SenderRegistry, out: IO[str], *, as_json: bool) -> int:
    now = now_ms()
    states = await registry.states(now)
    if as_json:
        out.write(orjson.dumps([as_dict(state) for state in states]).decode() + "\n")
    else:
        out.write("\n".join(table(states, now)) + "\n")
    return 0


async def set_paused(registry: SenderRegistry, name: str, paused: bool, out: IO[str]) -> int:
    if not await registry.set_paused(name, paused):
        print(f"zapq senders: no sender named {name!r} in the pool", file=sys.stderr)
        return EXIT_FAILED
    if paused:
        out.write(f"paused {name}: in-flight sends finish, messages pinned to it wait\n")
    else:
        out.write(f"resumed {name}\n")
    return 0


async def senders(settings: Settings, args: argparse.Namespace, out: IO[str]) -> int:
    redis: Redis = create_redis(settings, "senders", max_connections=2)
    registry = SenderRegistry(MessageQueue(redis, settings))
    try:
        if args.action == "list":
            return await list_senders(registry, out, as_json=args.json)
        return await set_paused(registry, args.name, args.action == "pause", out)
    except RedisError as exc:
        print(f"zapq senders: Redis failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await redis.aclose()


def run(settings: Settings, args: argparse.Namespace) -> None:
    if args.action == "qr":
        code = asyncio.run(qr.show(settings, args.name, args.pairing_number, sys.stdout))
    else:
        code = asyncio.run(senders(settings, args, sys.stdout))
    if code:
        sys.exit(code)
