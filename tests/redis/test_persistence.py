"""The bundled Redis as the chart configures it (append-only file fsynced every second) killed with
SIGKILL while workers drain the queue, and started again on its files: every acknowledged message
is still there and ends sent. A process crash leaves the AOF's last writes in the kernel's page
cache, which the restart reads back; a crash of the node itself may lose the last second
(docs/operations.md)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from service.devstack import free_port, stop_process, wait_for_port
from service.queue.models import NewMessage
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.settings import Settings
from tests.chart.render import by_kind, rendered
from tests.chart.test_redis_config import localised, redis_7
from tests.conftest import require_tool
from tests.worker.conftest import eventually, sim_settings, wait_status
from tests.worker.procs import spawn, worker_env

pytestmark = pytest.mark.slow

MESSAGES = 400
MAX_JOBS = 5
SENDERS = json.dumps([{"name": "zapq", "rate_per_second": 1000, "burst": 100}])


class BundledRedis:
    """redis-server with the chart's rendered redis.conf, its data under ``root``."""

    def __init__(self, root: Path) -> None:
        binary = redis_7()
        require_tool(binary is not None, "redis-server 7 (Debian package redis-server)")
        self.binary = str(binary)
        self.port = free_port()
        conf = by_kind(rendered("bundled-redis"), "ConfigMap")["zapq-redis"]["data"]["redis.conf"]
        (root / "data").mkdir(parents=True)
        self.conf = root / "redis.conf"
        self.conf.write_text(localised(conf, root) + f"\nport {self.port}\nbind 127.0.0.1\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port, proc=self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def bundled(tmp_path: Path) -> Iterator[BundledRedis]:
    server = BundledRedis(tmp_path / "bundled")
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            stop_process(server.proc)


@pytest.mark.timeout(300)
async def test_sigkill_mid_drain_loses_no_acknowledged_message(
    bundled: BundledRedis, settings: Settings, sim: Any, procs: list[Any], tmp_path: Path
) -> None:
    sim.configure(latency_ms=30)
    qsettings = sim_settings(settings, sim.url).model_copy(
        update={"redis_url": Settings(redis_url=bundled.url).redis_url}
    )
    client: Redis = create_redis(qsettings, "test")
    queue = MessageQueue(client, qsettings)
    try:
        acked = await _enqueue(queue)
        env = worker_env(bundled.url, sim.url, ZAPQ_SENDERS=SENDERS)
        env["ZAPQ_WORKER__MAX_JOBS"] = str(MAX_JOBS)
        procs.append(spawn(env, tmp_path / "worker.log"))
        await eventually(lambda: _accepted(sim, MESSAGES // 3), timeout=60)
        bundled.kill()
        sent_before = sim.stats()["accepted"]
        bundled.start()  # replays the append-only file
        records = await queue.get_many(acked)
        lost = [mid for mid, record in zip(acked, records, strict=True) if record is None]
        for message_id in acked:
            await wait_status(queue, message_id, "sent", timeout=90)
    finally:
        await client.aclose()
    stats = sim.stats()
    print(
        f"\nbundled redis SIGKILL mid-drain: acknowledged {len(acked)}, sent before the kill "
        f"{sent_before}, lost {len(lost)}, duplicates {stats['duplicates']}"
    )
    assert lost == []
    # Only sends in flight at the kill can be repeated (their outcome was not yet recorded).
    assert stats["duplicates"] <= MAX_JOBS


async def _enqueue(queue: MessageQueue) -> list[str]:
    acked: list[str] = []
    for start in range(0, MESSAGES, 100):
        batch = [
            NewMessage(to=f"55119{87650000 + index}", text="oi")
            for index in range(start, start + 100)
        ]
        acked += [r.message_id for r in await queue.enqueue(batch, "k") if r.outcome == "new"]
    assert len(acked) == MESSAGES
    return acked


async def _accepted(sim: Any, n: int) -> bool:
    return bool(sim.stats()["accepted"] >= n)
