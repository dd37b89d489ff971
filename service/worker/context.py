"""What a worker process holds for its jobs: built in arq's on_startup, closed in on_shutdown."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from redis.asyncio import Redis

from service.evolution.client import EvolutionClient
from service.limits import TokenBucket
from service.queue.store import MessageQueue
from service.settings import Settings


@dataclass(slots=True)
class WorkerDeps:
    settings: Settings
    redis: Redis
    queue: MessageQueue
    evolution: EvolutionClient
    limiter: TokenBucket
    #: ``<host>-<pid>``: recorded on each message this worker sends, for tracing and the benchmarks.
    worker_id: str

    @classmethod
    def build(cls, settings: Settings, queue: MessageQueue) -> WorkerDeps:
        worker = settings.worker
        return cls(
            settings=settings,
            redis=queue.redis,
            queue=queue,
            evolution=EvolutionClient(settings.evolution, max_connections=worker.max_jobs),
            limiter=TokenBucket(worker.rate_per_second, worker.rate_burst),
            worker_id=f"{socket.gethostname()}-{os.getpid()}",
        )

    async def aclose(self) -> None:
        await self.evolution.aclose()
