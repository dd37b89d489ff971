"""zapq on a real Redis Cluster of three masters on loopback: the client finds the master of zapq's
one hash slot, follows it when the slot moves, and the core end-to-end tests pass on it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from service.queue.keys import Keys
from service.queue.models import NewMessage
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.redis_cluster import SlotOwnerPool
from service.settings import Settings
from tests.conftest import require_tool
from tests.redis.servers import Cluster, cli, have_cluster_tools, redis_cluster

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: The core end-to-end tests: the API (single, batch, cancel, the queue view, dead letters), the
#: worker's outcomes (sent, retries, expiry, send_at, cancel, dead letters, redeliveries), real
#: worker processes (drain, SIGKILL) and the scheduler's enqueue path.
CORE_E2E = [
    "tests/api/test_messages.py",
    "tests/api/test_batch_and_queue.py",
    "tests/worker/test_delivery.py",
    "tests/worker/test_process.py",
    "tests/scheduler/test_run.py",
]
# The core tests take ~2 min on one Redis; a cluster must not be much slower.
_E2E_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_tool(have_cluster_tools(), "redis-cli (Debian package redis-tools)")
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


def cluster_settings(cluster: Cluster, prefix: str = "{zapq}") -> Settings:
    return Settings(redis_url=cluster.url, redis_key_prefix=prefix)


async def test_the_client_talks_to_the_owner_of_the_prefix_slot(cluster: Cluster) -> None:
    for prefix in ("{zapq}", "{tenant-b}"):
        settings = cluster_settings(cluster, prefix)
        client: Redis = create_redis(settings, "test")
        try:
            queue = MessageQueue(client, settings)
            [result] = await queue.enqueue([NewMessage(to="5511987654321", text="oi")], "k")
            assert result.outcome == "new"
            pool = client.connection_pool
            assert isinstance(pool, SlotOwnerPool)
            assert pool.owner == ("127.0.0.1", cluster.owner_of(Keys(prefix).queue).port)
            assert (await queue.stats()).ready_total == 1
        finally:
            await client.aclose()


async def test_a_moved_slot_is_followed(cluster: Cluster) -> None:
    """Resharding zapq's slot to another master: the next command gets MOVED, and is retried on
    the new owner."""
    settings = cluster_settings(cluster, "{moving}")
    client: Redis = create_redis(settings, "test")
    keys = Keys("{moving}")
    try:
        await client.set(keys.wake, "1")
        source = cluster.owner_of(keys.wake)
        target = next(node for node in cluster.nodes if node is not source)
        _move_slot(cluster, keys.wake, source.port, target.port)
        assert await client.get(keys.wake) == b"1"
        pool = client.connection_pool
        assert isinstance(pool, SlotOwnerPool) and pool.owner == ("127.0.0.1", target.port)
    finally:
        await client.aclose()


def _move_slot(cluster: Cluster, key: str, source: int, target: int) -> None:
    """CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE the keys, SETSLOT NODE on every master."""
    slot = cli(source, "CLUSTER", "KEYSLOT", key).strip()
    ids = {port: cli(port, "CLUSTER", "MYID").strip() for port in (source, target)}
    cli(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
    cli(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
    for name in cli(source, "CLUSTER", "GETKEYSINSLOT", slot, "100").split():
        cli(source, "MIGRATE", "127.0.0.1", str(target), name, "0", "5000")
    for node in cluster.nodes:
        cli(node.port, "CLUSTER", "SETSLOT", slot, "NODE", ids[target])


def _scripts_run(port: int) -> int:
    """EVALSHA calls a node served (INFO commandstats)."""
    for line in cli(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_evalsha:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


@pytest.mark.timeout(_E2E_TIMEOUT_SECONDS + 60)
def test_the_core_end_to_end_tests_pass_on_the_cluster(cluster: Cluster) -> None:
    owner = cluster.owner_of(Keys().queue)
    before = {node.port: _scripts_run(node.port) for node in cluster.nodes}
    env = {**os.environ, "ZAPQ_TEST_REDIS_URL": cluster.url}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "", *CORE_E2E],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=_E2E_TIMEOUT_SECONDS,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary, summary
    # They ran on the cluster: the scripts went to the master of zapq's slot, and only there.
    ran = {port: _scripts_run(port) - calls for port, calls in before.items()}
    assert ran.pop(owner.port) > 100
    assert set(ran.values()) == {0}
