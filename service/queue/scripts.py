"""The Lua scripts behind every state change, each prepended with lua/lib.lua.

Scripts make each transition one atomic round trip: a message is never half-enqueued, a cancel never
races a claim, and two workers can never both record an outcome for the same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

NAMES = ("enqueue", "claim", "complete", "promote", "cancel", "requeue", "take", "finish")


@cache
def source(name: str) -> str:
    lua = resources.files(__package__) / "lua"
    return (lua / "lib.lua").read_text() + "\n" + (lua / f"{name}.lua").read_text()


@dataclass(frozen=True, slots=True)
class Scripts:
    enqueue: AsyncScript
    claim: AsyncScript
    complete: AsyncScript
    promote: AsyncScript
    cancel: AsyncScript
    requeue: AsyncScript
    take: AsyncScript
    finish: AsyncScript


def register(redis: Redis) -> Scripts:
    """Bind every script to a client: EVALSHA, falling back to EVAL once after a Redis restart."""
    return Scripts(**{name: redis.register_script(source(name)) for name in NAMES})
