"""Webhook delivery off the request path: a bounded queue, a few workers, one HTTP client.

A send only puts a Delivery on the queue (or drops it when the queue is full: a send never
waits for a receiver). Workers post it the way Evolution's WebhookController does (axios: JSON
POST, 2xx is success) and retry like its retryWebhookRequest: up to
webhook_retry_max_attempts posts, the delay doubling from webhook_retry_initial_delay_ms up to
webhook_retry_max_delay_ms with +/- webhook_retry_jitter_ratio jitter (never below the first
delay), no retry on 400, 401, 403, 404, 422. A retry waits on a timer, not in a worker.

Every attempt is logged for GET /_sim/webhooks. A reset starts a new generation: queued and
pending deliveries of the old one are dropped and in-flight ones are not logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from service.sim.config import SimConfig

_log = logging.getLogger(__name__)
#: WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES' default in Evolution.
NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})
#: Posts in flight at once. At a few hundred sends/s with four events each, and loopback
#: receivers answering in about a millisecond, 16 keeps up with room to spare; a receiver slower
#: than that fills the queue instead of the simulator's memory or sockets.
WORKERS = 16
#: About 10 s of events at 1,000 events/s: enough to ride out a slow receiver, small enough
#: (about 1 KB each) that a dead one cannot grow the simulator without bound.
MAX_QUEUED = 10_000
#: Attempts kept for GET /_sim/webhooks (about 100 bytes each, so about 20 MB at most).
MAX_LOGGED = 200_000


@dataclass(slots=True)
class Delivery:
    instance: str
    event: str
    url: str
    body: bytes
    headers: dict[str, str]
    generation: int
    key_id: str | None = None
    ack: str | None = None
    attempt: int = 0
    #: Runs once, when the first attempt is over (or the delivery was dropped): it fires the next
    #: event of the same message, so a message's events arrive in order.
    then: Callable[[], None] | None = None


class Dispatcher:
    def __init__(self, config: Callable[[], SimConfig]) -> None:
        self._config = config
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(MAX_QUEUED)
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._jitter = random.Random()
        self.log: deque[dict[str, Any]] = deque(maxlen=MAX_LOGGED)
        self.generation = 0
        self.counts = dict.fromkeys(("queued", "delivered", "failed", "retried", "dropped"), 0)
        self.in_flight = 0

    def submit(self, delivery: Delivery) -> None:
        """Queue a delivery; never waits (a full queue drops it and counts the drop)."""
        if not self._workers:
            self._start()
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
            _chain_on(delivery)
        else:
            self.counts["queued"] += 1

    def reset(self) -> None:
        self.generation += 1
        self.log.clear()
        self.counts = dict.fromkeys(self.counts, 0)
        while not self._queue.empty():
            self._queue.get_nowait()

    def stats(self) -> dict[str, int]:
        return {**self.counts, "pending": self._queue.qsize(), "in_flight": self.in_flight}

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _start(self) -> None:
        connector = aiohttp.TCPConnector(limit=WORKERS)
        self._session = aiohttp.ClientSession(connector=connector)
        self._workers = [asyncio.create_task(self._work()) for _ in range(WORKERS)]

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.get()
            if delivery.generation != self.generation:
                continue
            try:
                await self._attempt(delivery)
            except Exception:  # a worker must outlive any one delivery
                _log.exception("webhook delivery failed unexpectedly", extra={"url": delivery.url})

    async def _attempt(self, delivery: Delivery) -> None:
        delivery.attempt += 1
        self.in_flight += 1
        try:
            status, error = await self._post(delivery)
        finally:
            self.in_flight -= 1
        if delivery.generation != self.generation:
            return
        self.log.append(_entry(delivery, status, error))
        _chain_on(delivery)
        if status is not None and 200 <= status < 300:
            self.counts["delivered"] += 1
        elif (
            status in NON_RETRYABLE or delivery.attempt >= self._config().webhook_retry_max_attempts
        ):
            self.counts["failed"] += 1
        else:
            self.counts["retried"] += 1
            delay = self._retry_delay_seconds(delivery.attempt)
            asyncio.get_running_loop().call_later(delay, self._retry, delivery)

    def _retry(self, delivery: Delivery) -> None:
        if delivery.generation == self.generation:
            self.submit(delivery)

    def _retry_delay_seconds(self, attempts: int) -> float:
        """retryWebhookRequest's delay after ``attempts`` failed posts."""
        config = self._config()
        initial = config.webhook_retry_initial_delay_ms / 1000
        delay: float = min(
            initial * 2.0 ** (attempts - 1), config.webhook_retry_max_delay_ms / 1000
        )
        jitter = delay * config.webhook_retry_jitter_ratio * (self._jitter.random() * 2 - 1)
        return max(initial, delay + jitter)

    async def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        """(HTTP status, None) when the receiver answered, (None, error) when it did not."""
        assert self._session is not None  # started by the first submit
        timeout = aiohttp.ClientTimeout(total=self._config().webhook_timeout_ms / 1000)
        try:
            async with self._session.post(
                delivery.url, data=delivery.body, headers=delivery.headers, timeout=timeout
            ) as response:
                await response.read()
                return response.status, None
        except TimeoutError:
            return None, "timeout"
        except (aiohttp.ClientError, ValueError) as exc:  # ValueError: a malformed URL
            return None, f"{type(exc).__name__}: {exc}"


def _chain_on(delivery: Delivery) -> None:
    then, delivery.then = delivery.then, None
    if then is not None:
        then()


def _entry(delivery: Delivery, status: int | None, error: str | None) -> dict[str, Any]:
    return {
        "event": delivery.event,
        "instance": delivery.instance,
        "url": delivery.url,
        "status": status,
        "error": error,
        "attempt": delivery.attempt,
        "at": time.time(),
        "key_id": delivery.key_id,
        "ack": delivery.ack,
    }
