"""The Lua scripts and Python agree on every shared fact, and the check that says so works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from redis.asyncio import Redis

from service.queue import scripts
from service.queue.keys import Keys
from service.queue.store import MessageQueue
from tests.queue.conftest import POOL


@pytest.mark.parametrize("name", sorted(scripts.SPECS))
def test_scripts_name_every_fact(name: str) -> None:
    assert scripts.lua_problems(name) == []


def test_check_catches_a_spelled_out_status() -> None:
    script = scripts._file("cancel").replace("S.CANCELLED", "'cancelled'", 1)
    assert scripts.lua_problems("cancel", script) == [
        "cancel: literal 'cancelled' repeats a fact the header defines"
    ]


def test_check_catches_a_script_that_forgets_its_own_full_redis_probe() -> None:
    script = scripts._file("take").replace("refuse_if_full()", "-- refuse_if_full()")
    assert scripts.lua_problems("take", script) == [
        "take: never calls refuse_if_full() (its Spec says it does)"
    ]


async def test_an_idle_take_writes_nothing(queue: MessageQueue, redis: Redis) -> None:
    """Not even the full-Redis probe: an idle worker's poll costs Redis only its reads."""
    await queue.take(10, 30, "w", POOL)  # loads the script
    await redis.config_resetstat()
    taken = await queue.take(10, 30, "w", POOL)
    assert taken.empty
    stats = await redis.info("commandstats")
    assert set(stats) == {"cmdstat_config|resetstat", "cmdstat_evalsha", "cmdstat_get",
                          "cmdstat_zrangebyscore"}  # fmt: skip


def test_check_catches_a_typo_and_an_undeclared_key() -> None:
    script = scripts._file("finish").replace("K.INFLIGHT", "K.IN_FLIGHT")
    script += "\nredis.call('DEL', K.DEAD)\nlocal x = S.SNET\n"
    assert scripts.lua_problems("finish", script) == [
        "finish: K.IN_FLIGHT is not declared in its KEYS",
        "finish: K.DEAD is not declared in its KEYS",
        "finish: S.SNET is not defined in the generated header",
    ]


def test_check_follows_shared_functions() -> None:
    """complete.lua reaches K.INFLIGHT through lib.lua's end_job: its KEYS must declare it."""
    spec = scripts.SPECS["complete"]
    without = scripts.Spec(tuple(k for k in spec.keys if k != "inflight"), spec.senders)
    original = scripts.SPECS["complete"]
    scripts.SPECS["complete"] = without
    try:
        assert scripts.lua_problems("complete") == [
            "complete (via end_job): K.INFLIGHT is not declared in its KEYS"
        ]
    finally:
        scripts.SPECS["complete"] = original


def test_check_catches_a_key_name() -> None:
    script = scripts._file("requeue") + "\nredis.call('GET', '{zapq}:queue')\n"
    assert scripts.lua_problems("requeue", script) == [
        "requeue: literal '{zapq}:queue' repeats a fact the header defines"
    ]


def test_header_binds_keys_in_order_and_uses_the_prefix() -> None:
    header = scripts.header("finish", Keys("{other}"))
    assert "local K = {QUEUE = KEYS[1], INFLIGHT = KEYS[2]}" in header
    assert "MSG = '{other}:msg:'" in header and "'{zapq}" not in header


_SHA_OF_TAKE = """
import hashlib
from service.queue.keys import Keys
from service.queue.scripts import source
print(hashlib.sha1(source("take", Keys()).encode(), usedforsecurity=False).hexdigest())
"""


def test_sources_are_the_same_in_every_process() -> None:
    """A script's text (so its SHA in Redis's script cache) must not depend on the hash seed."""
    shas = {
        subprocess.run(
            [sys.executable, "-c", _SHA_OF_TAKE],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(shas) == 1, shas
