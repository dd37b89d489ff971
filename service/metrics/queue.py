"""Queue-wide gauges refreshed from Redis by a background loop (api and worker processes): queue
depths and ages, the scheduler's last run, and the sender pool's health."""

from __future__ import annotations

from service import metrics
from service.background import Periodic
from service.queue.models import Breaker, Connection, QueueStats, now_ms
from service.queue.store import MessageQueue
from service.redis import Memory, memory
from service.senders.registry import SenderRegistry, SenderState

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


def gauge_refresher(
    queue: MessageQueue, registry: SenderRegistry, interval_seconds: float
) -> Periodic:
    async def step() -> None:
        publish(await queue.stats())
        publish_memory(await memory(queue.redis))
        fields = ["last_run_at", "last_success_at", "last_failed"]
        publish_schedule(await queue.redis.hmget(queue.keys.schedule_last_run, fields))  # type: ignore[misc]
        publish_senders(await registry.states(now_ms()))

    return Periodic("queue-gauges", step, interval_seconds)
