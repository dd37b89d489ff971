"""`zapq senders list|pause|resume` over a real Redis: the table, the JSON (the API's fields), the
writes, and the command as a subprocess with its exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio import Redis

from service.api.schemas import SenderOut
from service.devstack import free_port
from service.queue.models import NewMessage, Outcome, now_ms
from service.queue.store import MessageQueue
from service.senders.cli import list_senders, set_paused
from service.senders.registry import SenderRegistry, days
from service.settings import SenderSpec, Settings


@pytest.fixture
async def registry(redis: Redis, settings: Settings) -> SenderRegistry:
    """Three senders: s1 sent one message, s2 is paused, s3's breaker opened on one fault."""
    pool = settings.pool.model_copy(update={"breaker_failures": 1})
    queue = MessageQueue(redis, settings.model_copy(update={"pool": pool}))
    registry = SenderRegistry(queue)
    await registry.put(SenderSpec(name="s1", rate_per_second=20, burst=5, daily_limit=1000))
    await registry.put(SenderSpec(name="s2", instance="billing-2", paused=True))
    await registry.put(SenderSpec(name="s3", rate_per_second=7.5))
    await send_through(queue, registry, "s1", Outcome.SENT, provider_id="p", remote_jid="j")
    await send_through(
        queue,
        registry,
        "s3",
        Outcome.RETRY,
        error="HTTP 400: Error: Connection Closed",
        error_class="instance_unavailable",
        next_at=now_ms() + 60_000,
        sender_fault=True,
    )
    return registry


async def send_through(
    queue: MessageQueue, registry: SenderRegistry, name: str, outcome: Outcome, **fields: Any
) -> None:
    """One message pinned to ``name``, taken and completed as a worker would."""
    await queue.enqueue([NewMessage(to="5511987654321", text="oi", sender=name)], "k")
    pool = list(days(await registry.all()).items())
    [claim] = (await queue.take(1, 30, "w", pool)).claims
    await queue.complete(claim, outcome, **fields)


def rows(text: str) -> dict[str, list[str]]:
    """The table's rows by sender name, cells split on runs of 2+ spaces."""
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["NAME", "INSTANCE", "RATE/S"]
    return {cells[0]: cells for cells in (re.split(r"\s{2,}", line) for line in lines[1:])}


async def test_list_shows_limits_today_pause_breaker_errors_and_the_last_minute(
    registry: SenderRegistry,
) -> None:
    out = io.StringIO()
    assert await list_senders(registry, out, as_json=False) == 0
    table = rows(out.getvalue())
    assert table["s1"] == ["s1", "s1", "20", "5", "1/1,000", "no", "closed", "-", "1"]
    assert table["s2"] == ["s2", "billing-2", "50", "10", "0/-", "yes", "closed", "-", "0"]
    *same, error, minute = table["s3"]
    assert same == ["s3", "s3", "7.5", "10", "1/-", "no", "open"]
    assert minute == "0", "a refusal is not a send"
    assert error.startswith("instance_unavailable ") and error.endswith(" ago")


async def test_list_json_has_the_fields_of_get_v1_senders(registry: SenderRegistry) -> None:
    out = io.StringIO()
    await list_senders(registry, out, as_json=True)
    listed = json.loads(out.getvalue())
    assert [sender["name"] for sender in listed] == ["s1", "s2", "s3"]
    for sender in listed:
        assert set(sender) == set(SenderOut.model_fields)
        SenderOut.model_validate(sender)
    s1, s2, s3 = listed
    assert (s1["today"], s1["daily_limit"], s1["sends_last_minute"]) == (1, 1000, 1)
    assert (s2["paused"], s2["available"]) == (True, False)
    assert (s3["breaker"], s3["available"], s3["last_error_class"]) == (
        "open",
        False,
        "instance_unavailable",
    )
    assert "evo-key" not in out.getvalue(), "never a key (the settings fixture's)"


async def test_pause_and_resume(registry: SenderRegistry) -> None:
    out = io.StringIO()
    assert await set_paused(registry, "s1", True, out) == 0
    sender = await registry.get("s1")
    assert sender is not None and sender.paused
    assert await set_paused(registry, "s1", False, out) == 0
    sender = await registry.get("s1")
    assert sender is not None and not sender.paused
    assert out.getvalue().splitlines() == [
        "paused s1: in-flight sends finish, messages pinned to it wait",
        "resumed s1",
    ]


async def test_an_unknown_sender_is_an_error(
    registry: SenderRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert await set_paused(registry, "nope", True, out) == 1
    assert out.getvalue() == ""
    assert capsys.readouterr().err == "zapq senders: no sender named 'nope' in the pool\n"
    assert await registry.get("nope") is None, "a pause never creates a sender"


def zapq(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZAPQ_")}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_command(registry: SenderRegistry, redis_url: str) -> None:
    listed = zapq("senders", "list", "--json", ZAPQ_REDIS_URL=redis_url)
    assert listed.returncode == 0, listed.stderr
    assert [sender["name"] for sender in json.loads(listed.stdout)] == ["s1", "s2", "s3"]

    paused = zapq("senders", "pause", "s3", ZAPQ_REDIS_URL=redis_url)
    assert (paused.returncode, paused.stderr) == (0, "")
    sender = await registry.get("s3")
    assert sender is not None and sender.paused

    unknown = zapq("senders", "resume", "nope", ZAPQ_REDIS_URL=redis_url)
    assert unknown.returncode == 1
    assert "no sender named 'nope'" in unknown.stderr

    bad_name = zapq("senders", "pause", "no/such", ZAPQ_REDIS_URL=redis_url)
    assert bad_name.returncode == 2
    assert "not a sender name" in bad_name.stderr


def test_bad_settings_and_no_redis_are_clear_errors() -> None:
    invalid = zapq("senders", "list", ZAPQ_REDIS_TIMEOUT_SECONDS="0")
    assert invalid.returncode == 2
    assert "ZAPQ_REDIS_TIMEOUT_SECONDS" in invalid.stderr

    url = f"redis://:secret-password@127.0.0.1:{free_port()}/0"
    down = zapq("senders", "list", ZAPQ_REDIS_URL=url, ZAPQ_REDIS_TIMEOUT_SECONDS="1")
    assert down.returncode == 1
    assert down.stderr.startswith("zapq senders: Redis failed: ConnectionError")
    assert "secret-password" not in down.stderr
