"""The arq worker: construction, job pickup through the sender pool, background loops.

Tuning against arq's defaults (see the README's sizing rule):
- jobs are taken by take.lua, highest priority first, as many as there are free slots (and this
  process's own rate cap allows): one Redis round trip per poll takes, routes, books each sender's
  slot and claims the messages; an urgent message enqueued behind 100,000 normal ones takes the next
  free slot.
- an idle worker blocks on the wake list instead of polling: enqueue, promotion and reroutes push a
  token; a worker whose senders are all booked sleeps until the soonest slot.
- poll_delay 20 ms between takes while there is work (arq's default 0.5 s caps a 50 msg/s worker
  near 20 msg/s).
- keep_result 0: outcomes live in the message record, arq results would only cost memory.
- max_tries is arq's redelivery counter; zapq dead-letters at worker.max_deliveries itself, so arq's
  own limit (which would drop the job silently) is set above it.
The overrides of arq itself live in service/queue/arq_boundary.py.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import orjson
from arq.connections import ArqRedis
from arq.worker import func

from service import metrics
from service.callbacks.dispatcher import Dispatcher
from service.limits import TokenBucket
from service.metrics.queue import QueueGauges
from service.queue.arq_boundary import JOB_FUNCTION, ArqWorker
from service.queue.models import now_ms
from service.queue.store import Claim, MessageQueue
from service.redis import create_redis, idle_block_seconds
from service.settings import Settings
from service.worker.context import WorkerDeps
from service.worker.delivery import skipped
from service.worker.health import create_health_app, start_health_server
from service.worker.promoter import Promoter
from service.worker.tasks import send_message

log = logging.getLogger("zapq.worker")

# The longest a worker sleeps for a booked-out pool before looking again (seconds).
_MAX_RETRY_SLEEP_SECONDS = 1.0


class ZapqWorker(ArqWorker):
    """arq's Worker taking jobs through the sender pool (service/queue/lua/take.lua)."""

    def __init__(self, *args: Any, queue: MessageQueue, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = queue
        settings: Settings = self.ctx["settings"]
        #: Jobs whose run complete.lua already ended: arq's finish needs no call.
        self.ended: set[str] = set()
        self.ctx["ended"] = self.ended
        #: Claims made by take.lua, handed to each job's task (service/worker/tasks.py).
        self.claims: dict[str, Claim] = {}
        self.ctx["claims"] = self.claims
        self.last_poll = time.monotonic()
        self.bucket = TokenBucket(settings.worker.rate_per_second, settings.worker.rate_burst)
        self._idle_block = idle_block_seconds(settings.redis_timeout_seconds)
        #: The random part of a booked-out worker's sleep (seconds): see _sleep_until.
        self._spread = settings.pool.reserve_ahead_seconds / 2

    @property
    def deps(self) -> WorkerDeps:
        deps: WorkerDeps = self.ctx["deps"]
        return deps

    async def poll_jobs(self) -> None:
        free = self.free_slots
        if free <= 0:
            return
        budget = self.bucket.take(free)
        if budget == 0:
            await asyncio.sleep(self.bucket.seconds_until_token())
            return
        deps = self.deps
        taken = await self.queue.take(
            budget, self.in_progress_timeout_s, deps.worker_id, deps.pool.routing()
        )
        self.bucket.give_back(budget - len(taken.claims))
        for skip in taken.skipped:
            skipped(skip)
        for claim in taken.claims:
            self.claims[claim.job_id] = claim
            await self.start_job(claim.job_id, claim.score)
        if taken.senders_version != deps.pool.version:
            await deps.pool.refresh(taken.senders_version)
        if taken.empty:
            await self._wait_for_work()
        elif not taken.claims and taken.retry_at_ms is not None:
            await self._sleep_until(taken.retry_at_ms)

    async def _wait_for_work(self) -> None:
        """Nothing is ready: block until an enqueue (or promotion, reroute) pushes a wake token."""
        self.polled()
        # Redis takes a fractional timeout (>= 6.0); redis-py's stubs say int.
        await self.pool.blpop([self.queue.keys.wake], timeout=self._idle_block)  # type: ignore[arg-type,misc]

    async def _sleep_until(self, at_ms: int) -> None:
        """Every sender is booked out (or waiting on its breaker): sleep until the soonest may take
        again, plus a random part of up to half the booking horizon. A slot can be booked from
        ``reserve_ahead`` before it comes, so a worker waking that much later still gets it, and
        the workers of one pool stop all asking for the same next slot (4 workers on one sender:
        5.1 ms of worker CPU per message before, 3.8 after, in two runs of loadtest/peers an hour
        apart; the pool's efficiency in bench_pool limit stayed at 0.98)."""
        seconds = (at_ms - now_ms()) / 1000 + random.uniform(0, self._spread)
        await asyncio.sleep(min(max(seconds, 0.0), _MAX_RETRY_SLEEP_SECONDS))

    def polled(self) -> None:
        self.last_poll = time.monotonic()

    async def job_ended(self, job_id: str, *, gave_up: bool) -> None:
        self.claims.pop(job_id, None)
        if job_id in self.ended:
            self.ended.discard(job_id)
            if not gave_up:
                return
        # The task did not record an outcome: arq interrupted it (drain, Redis error) or it failed
        # (arq's job timeout). The job goes back to the queue unless its message is finished, and
        # its next run counts as a redelivery (dead-lettered after worker.max_deliveries). A job arq
        # gave up on (payload expired) is deleted.
        await self.queue.finish_job(job_id, requeue=not gave_up)


async def _on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    worker: ZapqWorker = ctx["worker"]
    deps = WorkerDeps.build(settings, worker.queue)
    ctx["deps"] = deps
    await deps.pool.registry.bootstrap()
    await deps.pool.refresh()
    metrics.WORKER_MAX_JOBS.set(settings.worker.max_jobs)
    metrics.WORKER_IN_FLIGHT.set_function(lambda: worker.job_counter)
    ctx["background"] = [
        Promoter(deps, idle_block_seconds(settings.redis_timeout_seconds)).start(),
        Dispatcher(settings).start(),  # client callbacks (service/callbacks/dispatcher.py)
    ]
    if settings.metrics.port:
        stale = max(30.0, 20 * settings.worker.poll_delay_seconds)
        gauges = QueueGauges(deps.queue, deps.pool.registry, settings.worker.stats_interval_seconds)
        app = create_health_app(deps.redis, lambda: worker.last_poll, stale, gauges)
        ctx["health"] = await start_health_server(app, settings.metrics.host, settings.metrics.port)
    log.info(
        "worker started",
        extra={
            "worker": deps.worker_id,
            "max_jobs": settings.worker.max_jobs,
            "rate_per_second": settings.worker.rate_per_second,
            "senders": sorted(deps.pool.senders),
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


def create_worker(settings: Settings, **overrides: Any) -> ZapqWorker:
    """Build the worker; call from a thread with no running loop (arq binds the current loop)."""
    cfg = settings.worker
    # +10: the promoter, the gauges and the idle wait hold a connection each besides the jobs.
    redis = create_redis(
        settings, "worker", client_class=ArqRedis, max_connections=cfg.max_jobs + 10
    )
    queue = MessageQueue(redis, settings)
    ctx: dict[str, Any] = {"settings": settings}
    options: dict[str, Any] = {
        "functions": [func(send_message, name=JOB_FUNCTION)],
        "queue_name": queue.keys.queue,
        "redis_pool": redis,
        "queue": queue,
        "max_jobs": cfg.max_jobs,
        "job_timeout": cfg.job_timeout_seconds,
        "keep_result": 0,
        "poll_delay": cfg.poll_delay_seconds,
        "max_tries": cfg.max_deliveries + 1,
        "health_check_interval": 10,
        "health_check_key": queue.keys.health_check,
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
    """`zapq worker`: run until SIGTERM/SIGINT, then drain (worker.drain_timeout_seconds)."""
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    create_worker(settings).run()
