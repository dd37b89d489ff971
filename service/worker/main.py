"""The arq worker: WorkerSettings-equivalent construction, resilient polling, background loops.

Tuning against arq's defaults (see the README's sizing rule):
- poll_delay 20 ms instead of 0.5 s, and queue_read_limit = max_jobs: each poll re-reads the head
  of the queue, so an urgent message enqueued behind 100,000 normal ones takes the next free slot.
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
from service.redis import REDIS_ERRORS, create_redis
from service.settings import Settings
from service.worker.context import WorkerDeps
from service.worker.health import create_health_app, start_health_server
from service.worker.tasks import send_message

log = logging.getLogger("zapq.worker")

# Longest pause between polls while Redis is unreachable (seconds); doubles from poll_delay up to
# it.
_MAX_BACKOFF_SECONDS = 5.0


class ZapqWorker(Worker):
    """arq's Worker, made to survive Redis outages instead of exiting on the first error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_poll = time.monotonic()
        self._backoff = 0.0

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
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
    deps = WorkerDeps.build(settings, ctx["redis"])
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
        "max_jobs": cfg.max_jobs,
        "job_timeout": cfg.job_timeout_seconds,
        "keep_result": 0,
        "poll_delay": cfg.poll_delay_seconds,
        "queue_read_limit": cfg.max_jobs,
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
