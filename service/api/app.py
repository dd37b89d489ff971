"""create_app(): the FastAPI app and its lifespan (Redis, queue, gauges; closed in reverse)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from service.api.middleware import BodySizeLimit, RequestMetrics
from service.api.routes import health, messages, queue, senders
from service.api.validation import field_errors
from service.errors import ServiceError, StorageFull, Unauthorized
from service.metrics.queue import gauge_refresher
from service.queue.backpressure import STORAGE_FULL, Backpressure
from service.queue.store import MessageQueue
from service.redis import REDIS_ERRORS, REDIS_FULL_ERRORS, create_redis
from service.senders.registry import SenderRegistry
from service.settings import Settings, get_settings

log = logging.getLogger("zapq.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis: Redis = create_redis(settings, "api")
        app.state.queue = MessageQueue(redis, settings)
        app.state.senders = SenderRegistry(app.state.queue)
        app.state.backpressure = Backpressure(app.state.queue)
        await _bootstrap(app.state.senders)
        gauges = gauge_refresher(
            app.state.queue, app.state.senders, settings.worker.stats_interval_seconds
        ).start()
        try:
            yield
        finally:
            await gauges.stop()
            await redis.aclose()

    app = FastAPI(
        title="zapq",
        version="0.1.0",
        summary="WhatsApp notifications at scale, through the Evolution API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(messages.router)
    app.include_router(queue.router)
    app.include_router(senders.router)
    app.include_router(health.router)
    _add_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(RequestMetrics)
    return app


async def _bootstrap(registry: SenderRegistry) -> None:
    """Seed the sender registry (ZAPQ_SENDERS); a Redis that is down at start-up is not fatal:
    the API answers 503 until it returns, and the workers seed it too."""
    try:
        await registry.bootstrap()
    except REDIS_ERRORS as exc:
        log.warning("could not seed the sender registry", extra={"error": repr(exc)})


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
        if exc.retry_after_seconds is not None:
            headers["Retry-After"] = str(exc.retry_after_seconds)
        return JSONResponse(
            {"error": exc.code, "detail": exc.detail}, exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "validation_error", "detail": field_errors(exc.errors())}, 422
        )

    async def redis_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("redis unavailable", extra={"error": repr(exc)})
        detail = "the queue (Redis) is unreachable; nothing was enqueued, retry later"
        return JSONResponse(
            {"error": "unavailable", "detail": detail}, 503, headers={"Retry-After": "5"}
        )

    async def redis_full(request: Request, exc: Exception) -> JSONResponse:
        # A script refuses a full Redis's first write whole (service/queue/scripts.py).
        log.error("redis is full: writes refused", extra={"error": repr(exc)})
        return await service_error(request, StorageFull(STORAGE_FULL))

    for error_type in REDIS_ERRORS:
        app.add_exception_handler(error_type, redis_down)  # type: ignore[arg-type]
    for error_type in REDIS_FULL_ERRORS:
        app.add_exception_handler(error_type, redis_full)  # type: ignore[arg-type]
