"""Client callback delivery: a loop in every worker process (started beside its job loop).

It claims due events with callback_claim.lua (a lease of the request timeout + 10 s), posts each
signed body with one shared HTTP client, and records the attempt with callback_done.lua:
delivered, retry after ``callbacks.retry_delays_seconds`` (+/- 10 %), or dead (retries spent, or an
address the SSRF guard refuses: no retry can fix that). At most ``callbacks.concurrency``
deliveries run in a process, and ``callbacks.endpoint_concurrency`` per endpoint across all of
them (Redis counts them). Delivery is at least once: a dispatcher that dies mid-request leaves its
events to the others once their lease runs out, and a receiver dedupes on ``webhook-id``.

Idle, it costs one BLPOP per ~2 s: it blocks on the callbacks' wake list (every queued event
pushes a token) until the next due event or lease deadline it knows of, and claims at least every
30 s in case a process that knew of an earlier one died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from redis.asyncio import Redis

from service import metrics
from service.background import Periodic
from service.callbacks.addresses import AddressRefused, GuardedResolver, refusal
from service.callbacks.body import render
from service.callbacks.signing import Signer
from service.queue.callbacks import Attempt, CallbackEvent, CallbackQueue
from service.queue.models import now_ms
from service.queue.store import MessageQueue
from service.redis import REDIS_ERRORS, create_redis, idle_block_seconds
from service.settings import Settings

log = logging.getLogger("zapq.callbacks")

# +/- this share of random spread on each retry delay, so that one outage's retries (every
# event of a receiver that was down) do not all come back in the same second.
_RETRY_JITTER_RATIO = 0.1
# Claim at least this often even without a wake-up: a retry another process scheduled, whose
# process then died, is found within this long (seconds).
_SAFETY_CLAIM_SECONDS = 30.0
# After a Redis error, wait this long before trying again (seconds).
_REDIS_PAUSE_SECONDS = 1.0


class Unrenderable(Exception):
    """The event's body could not be built (a record zapq cannot read): it is dead at once."""


def failure_reason(status: int | None, error: BaseException | None) -> str:
    """The metric label of a failed attempt."""
    if isinstance(error, AddressRefused):
        return "refused_address"
    if isinstance(error, Unrenderable):
        return "unrenderable"
    if isinstance(error, TimeoutError):
        return "timeout"
    if error is not None:
        return "transport"
    assert status is not None
    return "http_5xx" if status >= 500 else "http_4xx" if status >= 400 else "http_other"


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.callbacks
        # Its own connections: a backlog of callbacks never takes the job loop's.
        self.redis: Redis = create_redis(
            settings, "callbacks", max_connections=self.cfg.concurrency + 4
        )
        self.callbacks = CallbackQueue(MessageQueue(self.redis, settings))
        self.signer = Signer(self.cfg)
        self._lease_ms = int(self.cfg.lease_seconds * 1000)
        self._idle_block = idle_block_seconds(settings.redis_timeout_seconds)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        # Each step runs again at once; the interval is the pause after a Redis error.
        self._loop = Periodic("callbacks", self._step, _REDIS_PAUSE_SECONDS)
        self._next_at: int | None = None
        self._last_claim = 0.0

    def start(self) -> Dispatcher:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.cfg.allow_private_networks),
            limit=self.cfg.concurrency,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_seconds),
            trust_env=False,  # never through a proxy from the environment
        )
        self._loop.start()
        return self

    async def stop(self) -> None:
        """Stop claiming, give running deliveries their timeout, then close (what is cut off is
        delivered again once its lease runs out)."""
        await self._loop.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.cfg.timeout_seconds)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await self.redis.aclose()

    # -- the loop ---------------------------------------------------------------------------------

    async def _step(self) -> bool:
        """Claim when due, then wait for a reason to claim again. Always runs again at once."""
        if self._due():
            await self._claim()
        await self._wait()
        return True

    def _due(self) -> bool:
        if self._next_at is None:
            return time.monotonic() - self._last_claim >= _SAFETY_CLAIM_SECONDS
        return now_ms() >= self._next_at

    async def _claim(self) -> None:
        free = self.cfg.concurrency - len(self._tasks)
        if free <= 0:
            return
        claimed = await self.callbacks.claim(free, self._lease_ms, self.cfg.endpoint_concurrency)
        self._last_claim = time.monotonic()
        metrics.CALLBACKS_DEAD_LETTERS.set(claimed.dead_letters)
        metrics.CALLBACKS_IN_FLIGHT.set(claimed.in_flight)
        # A full claim means more may be due: claim again as soon as a slot frees.
        self._next_at = now_ms() if len(claimed.events) >= free else claimed.next_at_ms
        ids = [event.message_id for event in claimed.events if event.message_id]
        records = dict(zip(ids, await self.callbacks.messages(ids), strict=True)) if ids else {}
        for event in claimed.events:
            task = asyncio.create_task(self._deliver(event, records.get(event.message_id, {})))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _wait(self) -> None:
        """Until a slot frees (all busy), a wake token, the next due time, or the safety claim."""
        if len(self._tasks) >= self.cfg.concurrency:
            await asyncio.wait(
                self._tasks, timeout=self._idle_block, return_when=asyncio.FIRST_COMPLETED
            )
            return
        until = (
            _SAFETY_CLAIM_SECONDS if self._next_at is None else (self._next_at - now_ms()) / 1000
        )
        timeout = min(self._idle_block, until)
        if timeout <= 0:
            return
        # Redis takes a fractional timeout; redis-py's stubs say int.
        wake = [self.callbacks.keys.callbacks_wake]
        token = await self.redis.blpop(wake, timeout=max(timeout, 0.01))  # type: ignore[arg-type,misc]
        if token is not None:
            self._next_at = now_ms()

    # -- one attempt ------------------------------------------------------------------------------

    async def _deliver(self, event: CallbackEvent, record: dict[bytes, bytes | None]) -> None:
        status: int | None = None
        error: BaseException | None
        try:
            body = render(event, record, self.cfg.full_phone_numbers)
        except Exception as exc:  # a record it cannot describe: no retry can change that
            log.exception("callback body failed", extra={"event_id": event.id})
            error = Unrenderable(f"{type(exc).__name__}: {exc}")
        else:
            started = time.perf_counter()
            status, error = await self._post(event, body)
            metrics.CALLBACK_DURATION.labels(
                "delivered" if error is None and _ok(status) else "failed"
            ).observe(time.perf_counter() - started)
        outcome, next_at, reason = self._decide(event, status, error)
        try:
            await self.callbacks.done(event, outcome, next_at_ms=next_at, error=reason)
        except REDIS_ERRORS as exc:
            # The lease runs out and the event is delivered again: at least once.
            log.warning("could not record a callback attempt", extra={"error": repr(exc)})
            return
        if outcome is Attempt.RETRY:
            # Claim it then (the wait in progress may overrun by up to its idle block).
            self._next_at = next_at if self._next_at is None else min(self._next_at, next_at)
        self._count(event, outcome, status, error, reason)

    async def _post(
        self, event: CallbackEvent, body: str
    ) -> tuple[int | None, BaseException | None]:
        refused = refusal(event.url, self.cfg.allow_private_networks)
        if refused is not None:
            return None, AddressRefused(refused)
        assert self._session is not None  # started
        headers = self.signer.headers(event.id, body, int(time.time()))
        try:
            async with self._session.post(
                event.url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                return response.status, None
        except aiohttp.ClientConnectorDNSError as exc:
            return None, exc.os_error if isinstance(exc.os_error, AddressRefused) else exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return None, exc

    def _decide(
        self, event: CallbackEvent, status: int | None, error: BaseException | None
    ) -> tuple[Attempt, int, str]:
        """(outcome, next attempt in unix ms, what went wrong)."""
        if error is None and _ok(status):
            return Attempt.DELIVERED, 0, ""
        reason = f"HTTP {status}" if error is None else f"{type(error).__name__}: {error}"
        delays = self.cfg.retry_delays_seconds
        if isinstance(error, AddressRefused | Unrenderable) or event.attempt > len(delays):
            return Attempt.DEAD, 0, reason
        jitter = 1 + random.uniform(-_RETRY_JITTER_RATIO, _RETRY_JITTER_RATIO)
        return Attempt.RETRY, now_ms() + int(delays[event.attempt - 1] * jitter * 1000), reason

    @staticmethod
    def _count(
        event: CallbackEvent,
        outcome: Attempt,
        status: int | None,
        error: BaseException | None,
        reason: str,
    ) -> None:
        fields: dict[str, Any] = {
            "event_id": event.id,
            "type": str(event.type),
            "message_id": event.message_id or None,
            "attempt": event.attempt,
            "status_code": status,
        }
        if outcome is Attempt.DELIVERED:
            metrics.CALLBACKS_DELIVERED.labels(event.type).inc()
            log.debug("callback delivered", extra=fields)
            return
        metrics.CALLBACK_FAILURES.labels(failure_reason(status, error)).inc()
        if outcome is Attempt.DEAD:
            metrics.CALLBACKS_DEAD.labels(event.type).inc()
            log.error("callback dead-lettered", extra={**fields, "error": reason})
        else:
            log.info("callback failed, will retry", extra={**fields, "error": reason})


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Dispatcher]:
    """A started dispatcher for the length of a block (tests, benchmarks)."""
    dispatcher = Dispatcher(settings).start()
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()
