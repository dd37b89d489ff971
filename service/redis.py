"""The one place Redis clients are made: client name, timeouts, retries and health checks, for a
single Redis, a Sentinel-managed master or a Redis Cluster (``ZAPQ_REDIS_URL``'s scheme).

    redis://[[user]:password@]host[:port][/db][?option=...]       one Redis (rediss:// for TLS,
                                                                   unix:///path.sock too)
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db][?option=...]
    redis+cluster://[[user]:password@]host[:port][,host[:port]...][?option=...]

``rediss+sentinel://`` and ``rediss+cluster://`` use TLS. Options are redis-py's URL options plus,
for Sentinel, ``sentinel_username`` / ``sentinel_password`` (the sentinels' own credentials).

Redis Cluster: every key zapq writes carries one hash tag (ZAPQ_REDIS_KEY_PREFIX), so every command
goes to the master that owns that one slot; the client is a plain redis-py client on a pool of
connections to that master (service/redis_cluster.py), one pool to one node.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    ConnectionPool,
    SSLConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.redis_cluster import SlotOwnerPool
from service.redis_pool import WaitingPool

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger("zapq.redis")

# Errors after which a command is retried on a fresh connection (3 tries, 50 ms .. 1 s apart): they
# cover a Redis restart or failover without surfacing to callers, and a longer outage still fails
# fast enough for /readyz to report it. READONLY: the connection still points at a master that a
# failover demoted (a managed Redis's DNS moved on); the write did not happen, so it is retried.
_RETRY_ON = (RedisConnectionError, RedisTimeoutError, ConnectionResetError, ReadOnlyError)

#: Redis refused a write for memory (used_memory > maxmemory with noeviction). The API answers 503
#: storage_full; workers and loops back off as for an outage.
REDIS_FULL_ERRORS: tuple[type[BaseException], ...] = (OutOfMemoryError,)
#: Redis cannot serve the call now (down, failing over, full): nothing was done, try again later.
REDIS_ERRORS: tuple[type[BaseException], ...] = (*_RETRY_ON, OSError, *REDIS_FULL_ERRORS)

Kind = Literal["standalone", "sentinel", "cluster"]
_SCHEMES: dict[str, Kind] = {
    "redis": "standalone",
    "rediss": "standalone",
    "unix": "standalone",
    "redis+sentinel": "sentinel",
    "rediss+sentinel": "sentinel",
    "redis+cluster": "cluster",
    "rediss+cluster": "cluster",
}
_DEFAULT_PORT = {"sentinel": 26379, "cluster": 6379}
_URL = re.compile(
    r"^(?P<scheme>[a-z+]+)://(?P<netloc>[^/?#]*)(?P<path>/[^?#]*)?(?:\?(?P<query>[^#]*))?$"
)
_NODE = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::(?P<port>\d{1,5}))?$")
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")


@dataclass(frozen=True)
class RedisTarget:
    """What ZAPQ_REDIS_URL names: one Redis, a Sentinel-managed master, or a Redis Cluster."""

    kind: Kind
    #: Sentinels or cluster seed nodes (host, port); empty for one Redis (the URL says it all).
    nodes: tuple[tuple[str, int], ...] = ()
    #: The master's name at the sentinels.
    master: str = ""
    #: redis-py connection options from the URL (credentials, db, TLS, query options).
    options: dict[str, Any] = field(default_factory=dict)
    #: The sentinels' own credentials.
    sentinel_options: dict[str, Any] = field(default_factory=dict)


def parse_redis_url(url: str) -> RedisTarget:
    """Read ZAPQ_REDIS_URL. Errors name the problem, never the URL (it may hold a password)."""
    match = _URL.match(url.strip())
    scheme = match.group("scheme") if match else url.partition("://")[0]
    kind = _SCHEMES.get(scheme)
    if kind is None or match is None:
        raise ValueError(f"the scheme must be one of {', '.join(s + '://' for s in _SCHEMES)}")
    if kind == "standalone":
        parse_url(url)  # redis-py's own check (scheme, port, options)
        return RedisTarget("standalone")
    userinfo, _, hosts = match.group("netloc").rpartition("@")
    nodes = tuple(_node(item, _DEFAULT_PORT[kind]) for item in hosts.split(","))
    parts = [unquote(part) for part in (match.group("path") or "").split("/") if part]
    master, db = _path(kind, parts)
    query, sentinel = _split_query(match.group("query") or "")
    tls = "s" if scheme.startswith("rediss") else ""
    auth = f"{userinfo}@" if userinfo else ""
    options = dict(parse_url(f"redis{tls}://{auth}localhost/{db}?{query}"))
    for placeholder in ("host", "port"):
        options.pop(placeholder, None)
    return RedisTarget(kind, nodes, master, options, sentinel)


def _node(text: str, default_port: int) -> tuple[str, int]:
    match = _NODE.match(text.strip())
    if not match:
        raise ValueError("every node must be host or host:port, comma-separated")
    port = int(match.group("port") or default_port)
    if not 0 < port < 65536:
        raise ValueError("a node's port must be >= 1 and <= 65535")
    return match.group("host").strip("[]"), port


def _path(kind: str, parts: list[str]) -> tuple[str, int]:
    """Sentinel: /master[/db]; cluster: nothing (a cluster has only db 0)."""
    if kind == "cluster":
        if parts and parts != ["0"]:
            raise ValueError("a Redis Cluster URL takes no path (a cluster has only db 0)")
        return "", 0
    if not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("a Sentinel URL's path is /<master name>[/<db number>]")
    return parts[0], int(parts[1]) if len(parts) == 2 else 0


def _split_query(query: str) -> tuple[str, dict[str, Any]]:
    """redis-py's options, and the sentinels' credentials (sentinel_username, sentinel_password)."""
    ours: dict[str, Any] = {}
    theirs = []
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        if name in _SENTINEL_OPTIONS:
            ours[name.removeprefix("sentinel_")] = unquote(value)
        else:
            theirs.append(item)
    return "&".join(theirs), ours


R = TypeVar("R", bound=Redis)


def create_redis(
    settings: Settings,
    role: str,
    *,
    max_connections: int = 50,
    client_class: type[R] = Redis,  # type: ignore[assignment]
) -> R:
    """A redis.asyncio client named ``zapq-<role>-<host>-<pid>`` (visible in CLIENT LIST).

    ``client_class`` lets the worker get arq's Redis subclass without this module importing arq.
    """
    url = settings.redis_url.get_secret_value()
    common: dict[str, Any] = {
        "client_name": f"zapq-{role}-{socket.gethostname()}-{os.getpid()}",
        "redis_connect_func": _on_connect,
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        "socket_keepalive": True,
        # Ping an idle pooled connection before use if it sat unused this long (seconds).
        "health_check_interval": 30,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        "retry_on_error": list(_RETRY_ON),
        "max_connections": max_connections,
        "decode_responses": False,
    }
    # A caller finding every connection in use waits for one (service/redis_pool.py).
    common["pool_timeout"] = settings.redis_timeout_seconds
    target = parse_redis_url(url)
    pool: ConnectionPool
    if target.kind == "standalone":
        pool = WaitingPool.from_url(url, **common)
    elif target.kind == "sentinel":
        pool = _sentinel_pool(target, common)
    else:
        slot = key_slot(settings.redis_key_prefix.encode())
        pool = SlotOwnerPool(target.nodes, slot, **{**common, **target.options})
    return client_class.from_pool(pool)  # type: ignore[return-value]


# True once CLIENT SETNAME was refused, so that the note is logged once per process.
_name_refused = False


async def _on_connect(connection: AbstractConnection) -> None:
    """redis-py's handshake, with the client name set best-effort: Redis 6 files every CLIENT
    subcommand under @dangerous, which ACL users of managed services often lack, and a refused
    name must not refuse the connection (the name is only a label in CLIENT LIST)."""
    global _name_refused
    name, connection.client_name = connection.client_name, None
    try:
        await connection.on_connect()
    finally:
        connection.client_name = name
    if name and not _name_refused:
        await connection.send_command("CLIENT", "SETNAME", name)
        try:
            await connection.read_response()
        except NoPermissionError:
            _name_refused = True
            log.info("Redis refuses CLIENT SETNAME to this user: connections stay unnamed")


def _sentinel_pool(target: RedisTarget, common: dict[str, Any]) -> SentinelConnectionPool:
    """A pool whose connections ask the sentinels for the master (again after a failover)."""
    options = {**common, **target.options}
    ssl = options.pop("connection_class", None) is SSLConnection
    sockets = {key: value for key, value in common.items() if key.startswith("socket_")}
    sentinel_kwargs = {**sockets, **target.sentinel_options, "ssl": ssl}
    sentinels = Sentinel(list(target.nodes), sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
    return _SentinelPool(target.master, sentinels, ssl=ssl, **options)


class _SentinelPool(WaitingPool, SentinelConnectionPool):
    """redis-py's pool, which also closes its connections to the sentinels when its client closes
    (redis-py leaves them open)."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:
            for sentinel in self.sentinel_manager.sentinels:
                await sentinel.connection_pool.disconnect()


#: An idle loop (worker, promoter, callbacks dispatcher) blocks on its wake-up list this long per
#: call (seconds): a token ends the wait at once, so this only bounds how often an idle process
#: costs Redis a command. Kept under the socket timeout (IDLE_BLOCK_SHARE of it), past which
#: redis-py would end the call as an error.
IDLE_BLOCK_SECONDS = 4.0
IDLE_BLOCK_SHARE = 0.8


def idle_block_seconds(socket_timeout_seconds: float) -> float:
    return min(IDLE_BLOCK_SECONDS, socket_timeout_seconds * IDLE_BLOCK_SHARE)


# -- probes ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Memory:
    """Redis's INFO memory: what it holds and its limit (0: no maxmemory), in bytes."""

    used_bytes: int
    max_bytes: int

    @property
    def used_ratio(self) -> float | None:
        return self.used_bytes / self.max_bytes if self.max_bytes else None


# True once INFO was refused, so that the warning is logged once per process.
_memory_unreadable = False


async def memory(client: Redis) -> Memory:
    """Redis's memory use and limit. A Redis that refuses INFO (an ACL user without @dangerous,
    some managed services) reads as one without a limit: the memory checks are then off, and a
    full Redis is still answered 503 storage_full when it refuses the write."""
    try:
        info = await client.info("memory")
    except ResponseError as exc:
        global _memory_unreadable
        if not _memory_unreadable:
            _memory_unreadable = True
            log.warning("cannot read Redis's memory (INFO): memory checks are off", exc_info=exc)
        return Memory(0, 0)
    return Memory(int(info.get("used_memory", 0)), int(info.get("maxmemory", 0)))


async def accepts_writes(client: Redis, zset: str) -> None:
    """Raise what Redis answers a write with now: OOM (full), READONLY (a demoted master),
    MISCONF (persistence failing), a connection error. ``ZADD XX`` of a member that is never
    there is a write that changes nothing (and ``zset`` must be one of zapq's keys: its slot)."""
    await client.zadd(zset, {"": 0}, xx=True)
