"""The last run, in Redis (Keys.schedule_last_run): what the missed- or failed-run alert reads.

`zapq schedule` is a CronJob that Prometheus never scrapes, so it leaves its result where the
always-running api and worker processes can export it as the zapq_schedule_* gauges. A dry run
writes nothing. last_success_at is only ever overwritten by a successful run (HSET keeps it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from redis.asyncio import Redis

from service.queue.keys import Keys


async def write_last_run(
    redis: Redis, keys: Keys, *, finished_at: float, failed: bool, summary: Mapping[str, Any]
) -> None:
    """Record a run that ended at ``finished_at`` (unix seconds)."""
    fields: dict[str, str] = {
        "last_run_at": repr(finished_at),
        "last_failed": "1" if failed else "0",
        "summary": orjson.dumps(summary).decode(),
    }
    if not failed:
        fields["last_success_at"] = repr(finished_at)
    await redis.hset(keys.schedule_last_run, mapping=fields)  # type: ignore[misc]


async def read_last_run(redis: Redis, keys: Keys) -> dict[str, Any] | None:
    """{"last_run_at": s, "last_success_at": s | None, "last_failed": bool, "summary": {...}};
    None before the first run."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.schedule_last_run)  # type: ignore[misc]
    if not raw or b"last_run_at" not in raw:
        return None
    success = raw.get(b"last_success_at")
    summary = raw.get(b"summary")
    return {
        "last_run_at": float(raw[b"last_run_at"]),
        "last_success_at": float(success) if success else None,
        "last_failed": raw.get(b"last_failed") == b"1",
        "summary": orjson.loads(summary) if summary else None,
    }
