"""Queue gauges refreshed from Redis by a background loop (api and worker processes)."""

from __future__ import annotations

from service import metrics
from service.background import Periodic
from service.queue import keys
from service.queue.models import QueueStats
from service.queue.store import MessageQueue


def publish(stats: QueueStats) -> None:
    for priority, depth in stats.ready.items():
        metrics.QUEUE_READY.labels(priority).set(depth)
        metrics.QUEUE_OLDEST_AGE.labels(priority).set(stats.oldest_ready_age_seconds[priority])
    metrics.QUEUE_SCHEDULED.set(stats.scheduled)
    metrics.QUEUE_RETRYING.set(stats.retrying)
    metrics.QUEUE_IN_FLIGHT.set(stats.in_flight)
    metrics.QUEUE_DEAD.set(stats.dead_letters)


def publish_schedule(last_run: list[bytes | None]) -> None:
    """The scheduler's last run from keys.SCHEDULE_LAST_RUN (absent before the first run)."""
    run_at, success_at, failed = last_run
    if run_at is not None:
        metrics.SCHEDULE_LAST_RUN.set(float(run_at))
        metrics.SCHEDULE_LAST_FAILED.set(float(failed or 0))
    if success_at is not None:
        metrics.SCHEDULE_LAST_SUCCESS.set(float(success_at))


def gauge_refresher(queue: MessageQueue, interval_seconds: float) -> Periodic:
    async def step() -> None:
        publish(await queue.stats())
        fields = ["last_run_at", "last_success_at", "last_failed"]
        publish_schedule(await queue.redis.hmget(keys.SCHEDULE_LAST_RUN, fields))  # type: ignore[misc]

    return Periodic("queue-gauges", step, interval_seconds)
