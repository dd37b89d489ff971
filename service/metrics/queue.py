"""Queue gauges refreshed from Redis by a background loop (api and worker processes)."""

from __future__ import annotations

from service import metrics
from service.background import Periodic
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


def gauge_refresher(queue: MessageQueue, interval_seconds: float) -> Periodic:
    async def step() -> None:
        publish(await queue.stats())

    return Periodic("queue-gauges", step, interval_seconds)
