"""Queue-wide gauges read from Redis when /metrics is scraped (api and worker processes): queue
depths and ages, the scheduler's last run, and the sender pool's health.

Read on scrape, not by a loop: an idle installation that nobody scrapes costs Redis nothing, and
a scraped one a pipelined round trip per scrape and process (at most one per
``worker.stats_interval_seconds`` however many scrapers ask).
"""

from __future__ import annotations

import asyncio
import logging
import time

from prometheus_client import generate_latest

from service import metrics
from service.queue.models import Breaker, Connection, QueueStats, now_ms
from service.queue.store import MessageQueue
from service.redis import REDIS_ERRORS, Memory, memory
from service.senders.registry import SenderRegistry, SenderState

log = logging.getLogger("zapq.metrics")

_BREAKER_VALUE = {Breaker.CLOSED: 0, Breaker.HALF_OPEN: 1, Breaker.OPEN: 2}


def publish(stats: QueueStats) -> None:
    for priority, depth in stats.ready.items():
        metrics.QUEUE_READY.labels(priority).set(depth)
        metrics.QUEUE_OLDEST_AGE.labels(priority).set(stats.oldest_ready_age_seconds[priority])
    metrics.QUEUE_SCHEDULED.set(stats.scheduled)
    metrics.QUEUE_RETRYING.set(stats.retrying)
    metrics.QUEUE_IN_FLIGHT.set(stats.in_flight)
    metrics.QUEUE_DEAD.set(stats.dead_letters)


def publish_schedule(last_run: list[bytes | None]) -> None:
    """The scheduler's last run from Keys.schedule_last_run (absent before the first run)."""
    run_at, success_at, failed = last_run
    if run_at is not None:
        metrics.SCHEDULE_LAST_RUN.set(float(run_at))
        metrics.SCHEDULE_LAST_FAILED.set(float(failed or 0))
    if success_at is not None:
        metrics.SCHEDULE_LAST_SUCCESS.set(float(success_at))


def publish_memory(used: Memory) -> None:
    metrics.REDIS_MEMORY_USED.set(used.used_bytes)
    metrics.REDIS_MEMORY_MAX.set(used.max_bytes)


def available(state: SenderState) -> bool:
    """Whether the pool may route to the sender now (its rate aside)."""
    sender = state.sender
    at_limit = sender.daily_limit is not None and state.today >= sender.daily_limit
    return not (sender.paused or sender.connection is Connection.CLOSE or at_limit) and (
        state.breaker is not Breaker.OPEN
    )


_SENDER_GAUGES = (
    metrics.SENDER_BREAKER,
    metrics.SENDER_AVAILABLE,
    metrics.SENDER_RATE,
    metrics.SENDER_TODAY,
    metrics.SENDER_DAILY_LIMIT,
    metrics.SENDER_PAUSED,
)


def publish_senders(states: list[SenderState]) -> None:
    """One series per sender of the registry now (a deleted sender's series go)."""
    for gauge in _SENDER_GAUGES:
        gauge.clear()
    for state in states:
        name, sender = state.sender.name, state.sender
        metrics.SENDER_BREAKER.labels(name).set(_BREAKER_VALUE[state.breaker])
        metrics.SENDER_AVAILABLE.labels(name).set(int(available(state)))
        metrics.SENDER_RATE.labels(name).set(sender.rate_per_second)
        metrics.SENDER_TODAY.labels(name).set(state.today)
        metrics.SENDER_PAUSED.labels(name).set(int(sender.paused))
        if sender.daily_limit is not None:
            metrics.SENDER_DAILY_LIMIT.labels(name).set(sender.daily_limit)
    metrics.SENDERS_AVAILABLE.set(sum(available(state) for state in states))


class QueueGauges:
    """The queue-wide gauges, refreshed from Redis when scraped."""

    def __init__(
        self, queue: MessageQueue, registry: SenderRegistry, min_interval_seconds: float
    ) -> None:
        self.queue = queue
        self.registry = registry
        self._min_interval = min_interval_seconds
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read Redis unless that was done less than min_interval_seconds ago. Redis being away
        keeps the last values (the scrape still answers, with the process's own metrics)."""
        async with self._lock:
            if time.monotonic() - self._at < self._min_interval:
                return
            try:
                await self._read()
            except REDIS_ERRORS as exc:
                log.warning("queue gauges not refreshed: redis", extra={"error": repr(exc)})
                return
            self._at = time.monotonic()

    async def _read(self) -> None:
        queue = self.queue
        publish(await queue.stats())
        publish_memory(await memory(queue.redis))
        fields = ["last_run_at", "last_success_at", "last_failed"]
        publish_schedule(await queue.redis.hmget(queue.keys.schedule_last_run, fields))  # type: ignore[misc]
        publish_senders(await self.registry.states(now_ms()))

    async def exposition(self) -> bytes:
        """The /metrics page, queue gauges fresh."""
        await self.refresh()
        return generate_latest()
