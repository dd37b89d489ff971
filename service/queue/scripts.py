"""The Lua scripts behind every state change, and the one source of the facts they share.

Scripts make each transition one atomic round trip: a message is never half-enqueued, a cancel never
races a claim, two workers can never both record an outcome for the same job, and two pods can
never both take a sender's last token.

Each script is ``generated header + lib.lua (+ senders.lua) + <name>.lua``. The header is built here
from Python (keys.py, models.py, the sender pool's constants): the keys a script touches, bound by
name to its KEYS (the fixed ones; per-id keys are built from the prefixes ``P`` and share the
prefix's hash slot), statuses, outcomes, priority bands, breaker states. So a fact lives once, in
Python; ``lua_problems()`` rejects a script that spells one out itself or names one that does not
exist (tests/queue/test_scripts.py runs it over every script).

Results are one JSON document (``cjson.encode`` of a map), decoded here: never positional lists.

A full Redis (used_memory past maxmemory, noeviction) refuses a script's first write when that
command may grow memory, and never stops a script once it wrote (Redis 6 and 7 alike, for scripts
without a ``#!lua`` flags line, which Redis 6 cannot read). So each script's header opens with a
write that changes nothing and decides that case (Spec.when_full, when_full(); a script whose
Spec says probe_in_script makes that write itself, before its own first write): "refuse" (the whole
call fails with OOM and writes nothing: an enqueue is refused whole, no job is taken that arq could
not start, no promotion or requeue adds work) or "run" (the script runs to its end: a worker
records what it sent, a cancel frees memory, a worker starting up writes its few senders).
tests/redis/test_full.py runs every script on a full Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import orjson
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from service.limits.shared import GCRA_LUA, QUOTA_LUA
from service.queue.arq_boundary import ARQ_JOB_LUA
from service.queue.callbacks import CALLBACK_OF_STATUS, Attempt, CallbackType
from service.queue.keys import BAND, CALLBACK_TTL_MS, JOB_EXTRA_TTL_MS, Keys, Priority
from service.queue.models import (
    FINAL_STATUSES,
    RECEIPT_RANK,
    Breaker,
    Connection,
    Outcome,
    Status,
    Unavailable,
)


@dataclass(frozen=True, slots=True)
class Spec:
    """A script's KEYS, in order: attributes of Keys, or names the caller passes (lower case)."""

    keys: tuple[str, ...]
    senders: bool = False
    #: Built with limits/gcra.lua and limits/quota.lua (the API keys' quotas).
    quotas: bool = False
    #: On a full Redis: "refuse" the whole call, or "run" it (see the module docstring).
    when_full: Literal["refuse", "run"] = "refuse"
    #: "refuse" only: the script calls ``refuse_if_full()`` itself before its first write instead
    #: of the header doing it, so that a call that writes nothing (an idle worker's take on an
    #: empty queue) costs Redis no probe command.
    probe_in_script: bool = False


# Every script that ends a message (lib.lua's finish) queues its client callback: these two keys.
_CALLBACKS = ("callbacks_ready", "callbacks_wake")
_CALLBACK_QUEUE = ("callbacks_ready", "callbacks_leased", "callbacks_busy", "callbacks_dead")

SPECS: dict[str, Spec] = {
    "enqueue": Spec(("queue", "scheduled", "wake", "senders", "suppressed", "promote_wake")),
    "take": Spec(
        ("queue", "inflight", "wake", "senders_version", "senders", "suppressed", *_CALLBACKS),
        senders=True,
        probe_in_script=True,
    ),
    "complete": Spec(
        ("message", "retry", "dead", "queue", "inflight", "wake", "promote_wake", *_CALLBACKS),
        senders=True,
        when_full="run",
    ),
    "finish": Spec(("queue", "inflight"), when_full="run"),
    "rebook": Spec(("message", "inflight"), senders=True, when_full="run"),
    "promote": Spec(
        ("queue", "scheduled", "retry", "inflight", "senders", "wake", "promoter"), senders=True
    ),
    "cancel": Spec(
        ("message", "queue", "scheduled", "retry", "inflight", *_CALLBACKS), when_full="run"
    ),
    "requeue": Spec(("dead", "queue", "wake")),
    # A worker starting on a full Redis writes its ZAPQ_SENDERS (bounded: a few small hashes).
    "sender_put": Spec(
        ("senders", "senders_version", "queue", "wake"), senders=True, when_full="run"
    ),
    "sender_delete": Spec(
        ("senders", "senders_version", "queue", "wake"), senders=True, when_full="run"
    ),
    # The delivery lifecycle: Evolution's receipts, customers' messages and opt-outs, and the
    # client callbacks' own queue (service/queue/receipts.py, service/queue/callbacks.py).
    # Receipts are refused on a full Redis (Evolution posts them again, for minutes); an opt-out
    # runs (a customer's SAIR must hold); deliveries run (each one frees its event).
    "receipt": Spec(_CALLBACKS),
    "inbound": Spec(("suppressed", "suppressed_info", *_CALLBACKS), when_full="run"),
    "callback_claim": Spec((*_CALLBACK_QUEUE, "callbacks_wake"), when_full="run"),
    "callback_done": Spec((*_CALLBACK_QUEUE, "callbacks_wake"), when_full="run"),
    "callback_replay": Spec(("callbacks_dead", *_CALLBACKS)),
    # Erasure frees memory and is owed to a person: it runs.
    "erase": Spec(
        (
            "queue",
            "scheduled",
            "retry",
            "dead",
            "inflight",
            "suppressed",
            "callbacks_ready",
            "callbacks_leased",
            "callbacks_dead",
        ),
        when_full="run",
    ),
    # The request rate is counted on every authenticated request, reads included: it runs, so a
    # full Redis does not turn every read into a 503; a day's quota guards enqueues: refused.
    "quota_rate": Spec(("rate",), quotas=True, when_full="run"),
    "quota_day": Spec(("day",), quotas=True),
}


def constants() -> dict[str, dict[str, Any]]:
    """Name -> values of each constant table of the header (besides K, the script's keys, and P)."""
    return {
        "S": {status.name: str(status) for status in Status},
        "OUTCOME": {outcome.name: str(outcome) for outcome in Outcome},
        "BREAKER": {state.name: str(state) for state in Breaker},
        "UNAVAILABLE": {reason.name: str(reason) for reason in Unavailable},
        "CONNECTION": {state.name: str(state) for state in Connection},
        "BAND": {str(priority): band for priority, band in BAND.items()},
        # Sorted: a set's order changes with each process's hash seed, and so would every
        # script's SHA (one cached copy per process start in Redis).
        "FINAL": {str(status): True for status in sorted(FINAL_STATUSES)},
        "RANK": {str(status): rank for status, rank in RECEIPT_RANK.items()},
        "EVENT": {event.name: str(event) for event in CallbackType},
        "EVENT_OF": {str(status): str(event) for status, event in CALLBACK_OF_STATUS.items()},
        "ATTEMPT": {attempt.name: str(attempt) for attempt in Attempt},
        "C": {"JOB_EXTRA_TTL_MS": JOB_EXTRA_TTL_MS, "CALLBACK_TTL_MS": CALLBACK_TTL_MS},
    }


def _lua_value(value: Any) -> str:
    if value is True:
        return "true"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _lua_table(name: str, values: dict[str, Any]) -> str:
    items = ", ".join(
        f"{key} = {_lua_value(value)}" if key.isidentifier() else f"['{key}'] = {_lua_value(value)}"
        for key, value in values.items()
    )
    return f"local {name} = {{{items}}}"


def header(name: str, keys: Keys) -> str:
    spec = SPECS[name]
    bound = {key.upper(): f"KEYS[{index}]" for index, key in enumerate(spec.keys, start=1)}
    lines = [
        "-- Generated by service/queue/scripts.py from Python: keys, statuses, bands, states.",
        "local K = {" + ", ".join(f"{key} = {ref}" for key, ref in bound.items()) + "}",
        _lua_table("P", keys.prefixes()),
        *(_lua_table(table, values) for table, values in constants().items()),
        ARQ_JOB_LUA,
        when_full(spec),
    ]
    return "\n".join(lines)


def when_full(spec: Spec) -> str:
    """The first write of a script: a no-op that decides what a full Redis does with the call (see
    the module docstring). ZADD is refused then (deny-oom), ZREM is not (it cannot grow memory).
    Both go to a probe key in the prefix's slot that nothing ever writes (so it is no zset of
    another type, and XX never creates it): every script has one, whatever keys it declares."""
    probe = "P.JOB .. 'oom-probe'"
    if spec.when_full == "run":
        return f"redis.call('ZREM', {probe}, '') -- a full Redis runs this call to its end"
    refuse = (
        "local function refuse_if_full() redis.call('ZADD', "
        f"{probe}, 'XX', 0, '') end -- a full Redis refuses this call whole"
    )
    return refuse if spec.probe_in_script else refuse + "\nrefuse_if_full()"


@cache
def _file(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text()


def body(name: str) -> str:
    """The hand-written part of a script: lib.lua (+ senders.lua) and the script itself."""
    return "\n".join([*_shared(name), _file(name)])


def _shared(name: str) -> list[str]:
    """The function libraries a script is built with, in order."""
    spec = SPECS[name]
    senders = [GCRA_LUA, _file("senders")] if spec.senders else []
    quotas = ([] if spec.senders else [GCRA_LUA]) + [QUOTA_LUA] if spec.quotas else []
    return [_file("lib"), *senders, *quotas]


def source(name: str, keys: Keys) -> str:
    return header(name, keys) + "\n" + body(name)


class Script:
    """One script bound to a client and a key prefix: EVALSHA, EVAL once after a Redis restart."""

    def __init__(self, redis: Redis, name: str, keys: Keys) -> None:
        self.name = name
        self._keys = keys
        self._spec = SPECS[name]
        self._script: AsyncScript = redis.register_script(source(name, keys))

    async def __call__(self, args: list[Any], **passed: str) -> Any:
        """Run it; ``passed`` gives the KEYS that are not fixed (e.g. ``message=...``). The result
        is the script's JSON document, decoded."""
        keys = [
            passed[key] if key in passed else getattr(self._keys, key) for key in self._spec.keys
        ]
        raw = await self._script(keys=keys, args=args)
        return orjson.loads(raw)


class Scripts:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._scripts = {name: Script(redis, name, keys) for name in SPECS}

    def __getattr__(self, name: str) -> Script:
        try:
            return self._scripts[name]
        except KeyError:
            raise AttributeError(name) from None


# -- the check that keeps Lua and Python agreeing --------------------------------------------------

_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'((?:[^'\\\n]|\\.)*)'|\"((?:[^\"\\\n]|\\.)*)\"")
_REFERENCE = re.compile(r"\b([A-Z_]+)\.([A-Za-z_][A-Za-z0-9_]*)")
# Literals that are field names of a hash or Redis commands never collide with these sets.
_KEY_LIKE = re.compile(r"^(zapq|arq|\{)")


_FUNCTION = re.compile(r"^local function (\w+)\(.*?^end$", re.M | re.S)
_CALL = re.compile(r"\b(\w+)\(")


def _functions(name: str) -> dict[str, str]:
    """The shared functions a script is built with (lib.lua, senders.lua), name -> source."""
    shared = _shared(name)
    return {m.group(1): m.group(0) for part in shared for m in _FUNCTION.finditer(part)}


def _reached(code: str, functions: dict[str, str]) -> list[str]:
    """The shared functions ``code`` calls, directly or through one another."""
    seen: list[str] = []
    todo = [call for call in _CALL.findall(_COMMENT.sub("", code)) if call in functions]
    while todo:
        call = todo.pop()
        if call not in seen:
            seen.append(call)
            todo += [c for c in _CALL.findall(functions[call]) if c in functions and c != call]
    return seen


def lua_problems(name: str, script: str | None = None) -> list[str]:
    """What a hand-written script gets wrong about the shared facts: a table field that the header
    does not define (a typo reads as nil in Lua, silently), a key it touches (itself or through
    the shared functions it calls) that its KEYS do not declare, or a literal that spells out a
    status, outcome, priority, breaker or connection state or a key name instead of naming it.
    ``script``: the script's own file (default: as shipped)."""
    own = _file(name) if script is None else script
    declared = {key.upper() for key in SPECS[name].keys}
    functions = _functions(name)
    problems = _problems(own, name, declared)
    if SPECS[name].probe_in_script and "refuse_if_full()" not in _COMMENT.sub("", own):
        problems.append(f"{name}: never calls refuse_if_full() (its Spec says it does)")
    for function in _reached(own, functions):
        problems += _problems(functions[function], f"{name} (via {function})", declared)
    return problems


def _problems(code: str, name: str, declared: set[str]) -> list[str]:
    tables = {table: set(values) for table, values in constants().items()}
    tables["K"] = declared
    tables["P"] = set(Keys().prefixes())
    named = ("S", "OUTCOME", "BREAKER", "CONNECTION", "EVENT")
    spelled = {str(value) for table in named for value in constants()[table].values()}
    spelled |= {str(priority) for priority in Priority}
    code = _COMMENT.sub("", code)
    problems = []
    for table, field in _REFERENCE.findall(code):
        if table in tables and field not in tables[table]:
            what = "declared in its KEYS" if table == "K" else "defined in the generated header"
            problems.append(f"{name}: {table}.{field} is not {what}")
    for match in _STRING.finditer(code):
        literal = match.group(1) if match.group(1) is not None else match.group(2)
        if literal in spelled or _KEY_LIKE.match(literal):
            problems.append(f"{name}: literal {literal!r} repeats a fact the header defines")
    return problems
