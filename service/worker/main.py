"""The arq worker: WorkerSettings-equivalent construction, resilient polling, background loops.

Tuning against arq's defaults (see the README's sizing rule):
- jobs are taken by take.lua, highest priority first, as many as there are free slots: one Redis
  round trip per poll, and an urgent message enqueued behind 100,000 normal ones takes the next
  free slot.
- poll_delay 20 ms instead of 0.5 s (arq's default caps a 50 msg/s worker near 20 msg/s).
- keep_result 0: outcomes live in the message record, arq results would only cost memory.
- max_tries is arq's redelivery counter; zapq dead-letters at worker.max_deliveries itself, so arq's
  own limit (which would drop the job silently) is set above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any

import orjson
from arq.connections import ArqRedis
from arq.worker import Worker, func

from service import metrics
from service.background import Periodic
from service.metrics.queue import gauge_refresher
from service.queue import keys
from service.queue.store import Claim, MessageQueue, Skip
from service.redis import REDIS_ERRORS, create_redis
from service.settings import Settings
from service.worker.context import WorkerDeps
from service.worker.delivery import skipped
from service.worker.health import create_health_app, start_health_server
from service.worker.tasks import send_message

log = logging.getLogger("zapq.worker")

# Longest pause between polls while Redis is unreachable (seconds); doubles from poll_delay up to
# it.
_MAX_BACKOFF_SECONDS = 5.0


class ZapqWorker(Worker):
    """arq's Worker with zapq's job pickup, and made to survive Redis outages.

    arq runs each job (deserialize, ctx, timeout, cancellation, drain on SIGTERM, health key); jobs
    are taken with one atomic take.lua call instead of arq's read path (see service/queue/keys.py).
    """

    def __init__(self, *args: Any, queue: MessageQueue, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = queue
        #: Jobs whose run the claim or complete script already ended: arq's finish needs no call.
        self.ended: set[str] = set()
        self.ctx["ended"] = self.ended
        #: Claims made by take.lua, handed to each job's task (service/worker/tasks.py).
        self.claims: dict[str, Claim] = {}
        self.ctx["claims"] = self.claims
        self.last_poll = time.monotonic()
        self._backoff = 0.0

    async def _poll_iteration(self) -> None:
        main = self.main_task
        if main is not None and main.cancelling():
            # Stop was asked but a Redis call swallowed the CancelledError: stop here, or the loop
            # would go on polling (and reconnecting) after close().
            raise asyncio.CancelledError
        try:
            await self._take_jobs()
            for job_id, task in list(self.tasks.items()):
                if task.done():
                    del self.tasks[job_id]
                    task.result()
            await self.heart_beat()
        except REDIS_ERRORS as exc:
            self._backoff = min(max(self._backoff * 2, self.poll_delay_s), _MAX_BACKOFF_SECONDS)
            log.warning(
                "redis unavailable, polling again",
                extra={"error": repr(exc), "in_seconds": self._backoff},
            )
            await asyncio.sleep(self._backoff)
            return
        self._backoff = 0.0
        self.last_poll = time.monotonic()

    async def _take_jobs(self) -> None:
        free = self.max_jobs - self.job_counter
        if not self.allow_pick_jobs or free <= 0:
            return
        worker_id = self.ctx["deps"].worker_id
        for taken in await self.queue.take(free, self.in_progress_timeout_s, worker_id):
            job_id = taken.job_id
            if isinstance(taken.claim, Skip):
                skipped(taken.claim, job_id)  # the take script already ended the job
                continue
            self.claims[job_id] = taken.claim
            await self.sem.acquire()
            self.job_counter += 1
            task = self.loop.create_task(self.run_job(job_id, taken.score))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        self.claims.pop(job_id, None)
        if job_id in self.ended:
            self.ended.discard(job_id)
            return
        # The task did not record an outcome: arq interrupted it (drain, Redis error) or it failed
        # (arq's job timeout). The job goes back to the queue unless its message is finished, and
        # its next run counts as a redelivery (dead-lettered after worker.max_deliveries).
        await self.queue.finish_job(job_id, requeue=True)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        self.ended.discard(job_id)
        await self.queue.finish_job(job_id, requeue=False)

    async def close(self) -> None:
        """arq's close(), with redis-py's aclose() and tolerant of Redis being gone at shutdown."""
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_ERRORS):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose(close_connection_pool=True)
        self._pool = None


async def _on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    worker: ZapqWorker = ctx["worker"]
    deps = WorkerDeps.build(settings, worker.queue)
    ctx["deps"] = deps
    metrics.WORKER_MAX_JOBS.set(settings.worker.max_jobs)
    metrics.WORKER_IN_FLIGHT.set_function(lambda: worker.job_counter)
    ctx["background"] = [
        _promoter(deps).start(),
        gauge_refresher(deps.queue, settings.worker.stats_interval_seconds).start(),
    ]
    if settings.metrics.port:
        stale = max(30.0, 20 * settings.worker.poll_delay_seconds)
        app = create_health_app(deps.redis, lambda: worker.last_poll, stale)
        ctx["health"] = await start_health_server(app, settings.metrics.host, settings.metrics.port)
    log.info(
        "worker started",
        extra={
            "worker": deps.worker_id,
            "max_jobs": settings.worker.max_jobs,
            "rate_per_second": settings.worker.rate_per_second,
        },
    )


async def _on_shutdown(ctx: dict[str, Any]) -> None:
    for loop in ctx.get("background", []):
        await loop.stop()
    if "health" in ctx:
        await ctx["health"].cleanup()
    if "deps" in ctx:
        await ctx["deps"].aclose()
    log.info("worker stopped")


def _promoter(deps: WorkerDeps) -> Periodic:
    """Move due scheduled messages and retries to the ready queue (safe to run in every worker)."""
    batch = 1000

    async def step() -> bool:
        # A full batch means more are due: go again at once instead of waiting.
        return await deps.queue.promote_due(batch) >= batch

    return Periodic("promoter", step, deps.settings.worker.promote_interval_seconds)


def create_worker(settings: Settings, **overrides: Any) -> ZapqWorker:
    """Build the worker; call from a thread with no running loop (arq binds the current loop)."""
    cfg = settings.worker
    redis = create_redis(
        settings, "worker", client_class=ArqRedis, max_connections=cfg.max_jobs + 10
    )
    ctx: dict[str, Any] = {"settings": settings}
    options: dict[str, Any] = {
        "functions": [func(send_message, name="send_message")],
        "queue_name": keys.QUEUE,
        "redis_pool": redis,
        "queue": MessageQueue(redis, settings),
        "max_jobs": cfg.max_jobs,
        "job_timeout": cfg.job_timeout_seconds,
        "keep_result": 0,
        "poll_delay": cfg.poll_delay_seconds,
        "max_tries": cfg.max_deliveries + 1,
        "health_check_interval": 10,
        "health_check_key": keys.HEALTH_CHECK,
        "job_completion_wait": cfg.drain_timeout_seconds,
        "job_serializer": orjson.dumps,
        "job_deserializer": orjson.loads,
        "on_startup": _on_startup,
        "on_shutdown": _on_shutdown,
        "ctx": ctx,
    }
    options.update(overrides)
    worker = ZapqWorker(**options)
    ctx["worker"] = worker
    return worker


def run_worker(settings: Settings) -> None:
    """`zapq worker`: run until SIGTERM/SIGINT, then drain (see
    WorkerSettings.drain_timeout_seconds)."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    create_worker(settings).run()
