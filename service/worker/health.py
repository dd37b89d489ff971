"""The worker's small HTTP server: /metrics, /healthz (poll loop alive) and /readyz (Redis
reachable).

A failed /readyz answers only ``{"status": "unavailable"}``: Redis's address and error go to the
log, not to whoever can reach the port.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from service.metrics.queue import QueueGauges
from service.redis import REDIS_ERRORS

log = logging.getLogger("zapq.worker")


def create_health_app(
    redis: Redis,
    last_poll: Callable[[], float],
    stale_after_seconds: float,
    gauges: QueueGauges | None = None,
) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = await gauges.exposition() if gauges else generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        age = time.monotonic() - last_poll()
        if age > stale_after_seconds:
            return web.json_response(
                {"status": "stalled", "last_poll_seconds_ago": round(age, 1)}, status=503
            )
        return web.json_response({"status": "ok", "last_poll_seconds_ago": round(age, 3)})

    async def readyz(_: web.Request) -> web.Response:
        try:
            await redis.ping()
        except REDIS_ERRORS as exc:
            log.warning("not ready: redis", extra={"error": f"{type(exc).__name__}: {exc}"})
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def start_health_server(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
