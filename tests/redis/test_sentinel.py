"""zapq on a Sentinel-managed Redis (a master, a replica, three redis-sentinel processes): the API,
real worker processes and `zapq status` find the master through the sentinels, and after the
master is killed under load they carry on with the replica Sentinel promotes.

The bound (docs/operations.md): replication is asynchronous, so a failover loses the writes the
old master acknowledged but had not yet sent to the replica, and only those: the lost messages are
the last ones acknowledged before the kill, never one acknowledged after the failover or before an
acknowledged message that survived. Measured here: how many were lost, how long enqueueing failed
(503), how many sends were repeated.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from service.api.app import create_app
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.settings import Settings
from tests.conftest import require_tool
from tests.redis.servers import SentinelGroup, have_sentinel, sentinel_group
from tests.worker.conftest import eventually
from tests.worker.procs import spawn, worker_env

pytestmark = pytest.mark.slow

AUTH = {"Authorization": "Bearer test-key"}
BATCH = 10
#: Messages acknowledged before the master is killed, and after the failover.
BEFORE, AFTER = 800, 400
WORKERS, MAX_JOBS = 2, 5
# Between two batches: about 500 messages a second, what the two workers can send on a shared
# machine, so the load is sustained without an ever-growing backlog.
PAUSE_SECONDS = 0.02
SENDERS = json.dumps([{"name": "zapq", "rate_per_second": 1000, "burst": 100}])


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    require_tool(have_sentinel(), "redis-sentinel (Debian package redis-sentinel)")
    with sentinel_group(tmp_path / "sentinel") as running:
        yield running


@dataclass
class Producer:
    """Posts batches one at a time (so acknowledgement order is write order) and keeps the ids
    of every acknowledged message, in that order."""

    client: httpx.AsyncClient
    acked: list[str] = field(default_factory=list)
    refused: int = 0
    #: Index in ``acked`` of the first message acknowledged after the kill.
    first_after_kill: int | None = None
    #: Seconds from the kill to the first acknowledgement after it.
    outage_seconds: float | None = None
    killed_at: float | None = None
    stop: bool = False

    async def run(self) -> None:
        index = 0
        while not self.stop:
            messages = [{"to": f"55119{87650000 + index + i}", "text": "oi"} for i in range(BATCH)]
            index += BATCH
            try:
                response = await self.client.post("/v1/messages/batch", json={"messages": messages})
            except httpx.TransportError:  # pragma: no cover - the app is in-process
                response = None
            if response is None or response.status_code != 202:
                self.refused += 1
                await asyncio.sleep(0.05)
                continue
            if self.killed_at is not None and self.first_after_kill is None:
                self.first_after_kill = len(self.acked)
                self.outage_seconds = time.monotonic() - self.killed_at
            body = response.json()
            assert body["accepted"] == BATCH, body
            self.acked += [item["id"] for item in body["results"]]
            await asyncio.sleep(PAUSE_SECONDS)


def sentinel_settings(settings: Settings, group: SentinelGroup) -> Settings:
    return settings.model_copy(update={"redis_url": Settings(redis_url=group.url).redis_url})


# Its waits are bounded one by one (~50 s in all on a quiet machine); the sum of their bounds.
@pytest.mark.timeout(600)
async def test_a_failover_under_load_loses_only_unreplicated_acknowledgements(
    group: SentinelGroup, settings: Settings, sim: Any, procs: list[Any], tmp_path: Path
) -> None:
    sim.configure(latency_ms=10)
    ssettings = sentinel_settings(settings, group)
    env = worker_env(
        group.url,
        sim.url,
        ZAPQ_SENDERS=SENDERS,
        ZAPQ_WORKER__MAX_JOBS=str(MAX_JOBS),
        ZAPQ_WORKER__JOB_TIMEOUT_SECONDS="5",
        ZAPQ_EVOLUTION__CONNECT_TIMEOUT_SECONDS="1",
        ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS="3",
    )
    for index in range(WORKERS):
        procs.append(spawn(env, tmp_path / f"worker{index}.log"))
    app = create_app(ssettings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTH) as c:
            producer = Producer(c)
            task = asyncio.create_task(producer.run())
            try:
                await eventually(lambda: _acked(producer, BEFORE), timeout=120)
                await eventually(lambda: _sending(sim), timeout=60)
                old_master = group.master.port
                group.master.kill()
                producer.killed_at = time.monotonic()
                at_kill = len(producer.acked)
                await eventually(lambda: _acked(producer, at_kill + AFTER + BATCH), timeout=120)
            finally:
                producer.stop = True
                await task
    assert group.master_port() != old_master
    client: Redis = create_redis(ssettings, "test")
    try:
        queue = MessageQueue(client, ssettings)
        report = await _outcome(queue, producer)
    finally:
        await client.aclose()
    _print(report, producer, sim)
    before_kill = producer.acked[: producer.first_after_kill]
    lost = report["lost"]
    assert lost == before_kill[len(before_kill) - len(lost) :], "only the last acknowledged"
    assert report["unsent"] == [], "every surviving message is sent"
    assert sim.stats()["duplicates"] <= WORKERS * MAX_JOBS + len(lost)
    assert _status_works(ssettings)


async def _acked(producer: Producer, n: int) -> bool:
    return len(producer.acked) >= n


async def _sending(sim: Any) -> bool:
    """Workers are sending (a fair share of what was acknowledged is out)."""
    return bool(sim.stats()["accepted"] >= BEFORE // 4)


async def _outcome(queue: MessageQueue, producer: Producer) -> dict[str, list[str]]:
    """Wait (bounded) until every surviving message is sent; which were lost, which not sent."""
    deadline = time.monotonic() + 120
    while True:
        records = await queue.get_many(producer.acked)
        lost = [mid for mid, record in zip(producer.acked, records, strict=True) if record is None]
        unsent = [r.id for r in records if r is not None and r.status != "sent"]
        if not unsent or time.monotonic() > deadline:
            return {"lost": lost, "unsent": unsent}
        await asyncio.sleep(0.5)


def _print(report: dict[str, list[str]], producer: Producer, sim: Any) -> None:
    """The measured figures, in the test's output (docs/operations.md quotes them)."""
    stats = sim.stats()
    print(
        f"\nsentinel failover: acknowledged {len(producer.acked)}, "
        f"before the kill {producer.first_after_kill}, lost {len(report['lost'])}, "
        f"503 batches {producer.refused}, enqueue outage {producer.outage_seconds:.2f} s, "
        f"sent {stats['accepted']}, duplicates {stats['duplicates']}"
    )


def _status_works(settings: Settings) -> bool:
    """`zapq status --json` finds the new master through the sentinels."""
    done = subprocess.run(
        [sys.executable, "-m", "service", "status", "--json"],
        env={
            **{key: value for key, value in os.environ.items() if not key.startswith("ZAPQ_")},
            "ZAPQ_REDIS_URL": settings.redis_url.get_secret_value(),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0 and "ready" in json.loads(done.stdout.splitlines()[0])
