"""The one place Redis clients are made: client name, timeouts, retries and health checks."""

from __future__ import annotations

import os
import socket
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.settings import Settings

# Errors after which a command is retried on a fresh connection (3 tries, 50 ms .. 1 s apart): they
# cover a Redis restart or failover without surfacing to callers, and a longer outage still fails
# fast enough for /readyz to report it.
_RETRY_ON = (RedisConnectionError, RedisTimeoutError, ConnectionResetError)


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
    client: R = client_class.from_url(
        settings.redis_url.get_secret_value(),
        client_name=f"zapq-{role}-{socket.gethostname()}-{os.getpid()}",
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        socket_keepalive=True,
        # Ping an idle pooled connection before use if it sat unused this long (seconds).
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=list(_RETRY_ON),
        max_connections=max_connections,
        decode_responses=False,
    )
    return client


REDIS_ERRORS: tuple[type[BaseException], ...] = (*_RETRY_ON, OSError)
