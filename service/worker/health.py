"""The worker's small HTTP server: /metrics, /healthz (poll loop alive) and /readyz (Redis
reachable)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from service.redis import REDIS_ERRORS


def create_health_app(
    redis: Redis, last_poll: Callable[[], float], stale_after_seconds: float
) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

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
            return web.json_response({"status": "unavailable", "redis": repr(exc)}, status=503)
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
