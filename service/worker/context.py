"""What a worker process holds for its jobs: built in arq's on_startup, closed in on_shutdown."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from redis.asyncio import Redis

from service.queue.store import MessageQueue
from service.senders.pool import SenderPool
from service.senders.registry import SenderRegistry
from service.settings import Settings


@dataclass(slots=True)
class WorkerDeps:
    settings: Settings
    redis: Redis
    queue: MessageQueue
    #: The worker's view of the sender registry, with one Evolution client per sender.
    pool: SenderPool
    #: ``<host>-<pid>``: recorded on each message this worker sends, for tracing and the benchmarks.
    worker_id: str

    @property
    def lock_seconds(self) -> float:
        """How long a taken job stays ours past its send time: arq's in-progress timeout (the job
        timeout + 10 s, arq.worker.Worker.in_progress_timeout_s)."""
        return self.settings.worker.job_timeout_seconds + 10

    @classmethod
    def build(cls, settings: Settings, queue: MessageQueue) -> WorkerDeps:
        registry = SenderRegistry(queue)
        return cls(
            settings=settings,
            redis=queue.redis,
            queue=queue,
            pool=SenderPool(registry, settings.evolution, settings.worker.max_jobs),
            worker_id=f"{socket.gethostname()}-{os.getpid()}",
        )

    async def aclose(self) -> None:
        await self.pool.aclose()
