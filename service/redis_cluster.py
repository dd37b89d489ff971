"""Redis Cluster: connections to the master that owns zapq's one hash slot (service/redis.py).

Every key zapq writes carries one hash tag (ZAPQ_REDIS_KEY_PREFIX), so every command goes to the
master that owns that one slot. This pool's connections ask the cluster which master that is
(CLUSTER SLOTS through the URL's nodes and every master seen since), and ask again after MOVED for
that slot, CLUSTERDOWN, TRYAGAIN, a failover or a lost node: the command is then retried like after
a lost connection. arq's worker runs on it unchanged (MULTI/EXEC pipelines, BLPOP, EVALSHA), which
redis-py's RedisCluster cannot offer (its async pipelines refuse transactions).
"""

from __future__ import annotations

import weakref
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.redis_pool import WaitingPool


class SlotOwnerPool(WaitingPool):
    """Connections to the Redis Cluster master that owns ``slot`` (every zapq key's slot), found
    with CLUSTER SLOTS through ``seeds`` and looked up again after MOVED or a lost node."""

    def __init__(self, seeds: tuple[tuple[str, int], ...], slot: int, **kwargs: Any) -> None:
        ssl = kwargs.pop("connection_class", None) is SSLConnection
        kwargs["connection_class"] = SlotOwnerSSLConnection if ssl else SlotOwnerConnection
        super().__init__(**kwargs)
        self.connection_kwargs["connection_pool"] = weakref.proxy(self)
        self.seeds = seeds
        self.slot = slot
        self.owner: tuple[str, int] | None = None
        #: Every master seen, so that discovery outlives the loss of the seeds.
        self.known: list[tuple[str, int]] = []

    async def owner_address(self) -> tuple[str, int]:
        if self.owner is None:
            self.owner = await self._discover()
        return self.owner

    def moved(self, address: tuple[str, int] | None) -> None:
        """The slot has a new owner (MOVED names it), or the current one is gone (None)."""
        self.owner = address

    async def _discover(self) -> tuple[str, int]:
        errors = []
        for node in dict.fromkeys([*self.seeds, *self.known]):
            try:
                return await self._ask(node)
            except (RedisConnectionError, RedisTimeoutError, ResponseError, OSError) as exc:
                errors.append(type(exc).__name__)
        raise RedisConnectionError(
            f"no cluster node named the owner of slot {self.slot} ({', '.join(errors)})"
        )

    async def _ask(self, node: tuple[str, int]) -> tuple[str, int]:
        options = {
            key: value
            for key, value in self.connection_kwargs.items()
            if key not in ("connection_pool", "retry", "retry_on_error", "max_connections")
        }
        ssl = self.connection_class is SlotOwnerSSLConnection
        client = Redis(host=node[0], port=node[1], ssl=ssl, **options)
        try:
            ranges = await client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
        finally:
            await client.aclose()
        found = None
        for start, end, master, *_ in ranges:
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            address = (host or node[0], int(master[1]))
            if address not in self.known:
                self.known.append(address)
            if start <= self.slot <= end:
                found = address
        if found is None:
            raise ResponseError(f"slot {self.slot} is not served")
        return found


# Replies that say the slot's owner changed or cannot answer now: the connection reconnects to the
# owner found again, and the command is retried like after a lost connection.
_REDIRECTS = ("MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY")


class SlotOwnerConnection(Connection):
    """A connection to whatever node the pool says owns zapq's slot now."""

    def __init__(self, **kwargs: Any) -> None:
        self.connection_pool: SlotOwnerPool = kwargs.pop("connection_pool")
        super().__init__(**kwargs)

    async def connect(self) -> None:
        if not self.is_connected:
            self.host, self.port = await self.connection_pool.owner_address()
        try:
            await super().connect()  # type: ignore[no-untyped-call]
        except (RedisConnectionError, RedisTimeoutError):
            self.connection_pool.moved(None)
            raise

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            code, _, rest = str(exc).partition(" ")
            code = "READONLY" if isinstance(exc, ReadOnlyError) else code
            slot = self.connection_pool.slot
            if code not in _REDIRECTS or (code in ("MOVED", "ASK") and not _about(rest, slot)):
                raise  # a key outside zapq's slot: an error, not a reason to move
            self.connection_pool.moved(_moved_to(rest) if code == "MOVED" else None)
            await self.disconnect()
            raise RedisConnectionError(f"cluster: {code} for slot {slot}") from exc


def _about(text: str, slot: int) -> bool:
    """Whether a MOVED/ASK reply (``<slot> <host>:<port>``) is about ``slot``."""
    return text.partition(" ")[0] == str(slot)


def _moved_to(text: str) -> tuple[str, int] | None:
    """``<slot> <host>:<port>`` -> (host, port)."""
    _, _, address = text.partition(" ")
    host, _, port = address.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


class SlotOwnerSSLConnection(SlotOwnerConnection, SSLConnection):
    pass
