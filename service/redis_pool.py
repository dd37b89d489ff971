"""Connection pools that make a caller wait for a free connection instead of failing.

redis-py's ConnectionPool raises ConnectionError("Too many connections") the moment all of its
``max_connections`` are in use: an API process with more requests in flight than that (a load
test's status polls, a morning burst) answered some of them 503 "Redis unreachable" while Redis was
fine. BlockingConnectionPool waits, but takes a lock and starts a timer on every call, the hot path
of every command. WaitingPool waits only when the pool is exhausted: a caller that finds a
connection takes it as before, one that does not waits (at most ``pool_timeout`` seconds) for a
release.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

# redis-py's message when every connection is in use (ConnectionPool.get_available_connection).
_EXHAUSTED = "Too many connections"


class WaitingPool(ConnectionPool):
    """A ConnectionPool (or, first in the bases, any subclass of it) whose callers wait up to
    ``pool_timeout`` seconds for a connection when all ``max_connections`` are in use."""

    def __init__(self, *args: Any, pool_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool_timeout = pool_timeout
        self._freed: asyncio.Condition | None = None
        self._waiters = 0

    async def get_connection(self, *args: Any, **kwargs: Any) -> AbstractConnection:
        deadline: float | None = None
        while True:
            if self.can_get_connection():
                try:
                    connection: AbstractConnection = await super().get_connection(*args, **kwargs)
                    return connection
                except RedisConnectionError as exc:
                    # Taken by another task while this one waited for the pool's lock.
                    if str(exc) != _EXHAUSTED:
                        raise
            loop = asyncio.get_running_loop()
            deadline = deadline if deadline is not None else loop.time() + self.pool_timeout
            await self._wait_for_release(deadline - loop.time())

    async def _wait_for_release(self, seconds: float) -> None:
        if self._freed is None:
            self._freed = asyncio.Condition()
        self._waiters += 1
        try:
            async with self._freed:
                await asyncio.wait_for(self._freed.wait_for(self.can_get_connection), seconds)
        except TimeoutError:
            raise RedisConnectionError(
                f"no Redis connection free within {self.pool_timeout:g} s "
                f"(all {self.max_connections} of this process's connections in use)"
            ) from None
        finally:
            self._waiters -= 1

    async def release(self, connection: AbstractConnection) -> None:
        await super().release(connection)
        if self._waiters and self._freed is not None:
            async with self._freed:
                self._freed.notify()
