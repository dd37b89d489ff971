"""`zapq schedule` skips and counts charges whose customer opted out (a JSON Lines source)."""

from __future__ import annotations

from pathlib import Path

import orjson
from redis.asyncio import Redis

from service.queue.receipts import Lifecycle
from service.queue.store import MessageQueue
from service.settings import Settings
from tests.scheduler.conftest import MONDAY, at, charge, configure, records, run


async def test_suppressed_charges_are_skipped_and_counted(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    source = tmp_path / "charges.jsonl"
    rows = [
        charge("optedout", MONDAY, phone="+55 11 98765-4321"),
        charge("kept", MONDAY, phone="+55 11 98765-0000"),
    ]
    source.write_bytes(b"\n".join(orjson.dumps(row) for row in rows))
    await Lifecycle(MessageQueue(redis, settings)).suppress("5511987654321", "")
    result = (
        await run(configure(settings, source="file", source_url=str(source)), at(MONDAY, 7))
    ).result
    assert result["ok"], result
    assert (result["planned"], result["enqueued"], result["suppressed"]) == (2, 1, 1)
    assert result["per_rule"]["due_today"]["suppressed"] == 1
    assert [r.to for r in await records(redis)] == ["5511987650000"]
