"""create_app(): the FastAPI app and its lifespan (Redis, queue, gauges; closed in reverse)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from starlette.exceptions import HTTPException

from service.api import contract
from service.api.guard import RouteGuard
from service.api.middleware import REDIS_DOWN, BodySizeLimit, RequestMetrics, ResponseHeaders
from service.api.routes import (
    callbacks,
    health,
    messages,
    queue,
    recipients,
    senders,
    suppressions,
    webhooks,
)
from service.api.validation import field_errors
from service.auth.keys import KeyRing
from service.callbacks.evolution import WebhookAuth
from service.errors import ServiceError, StorageFull, Unauthorized
from service.limits.quotas import Quotas
from service.metrics.queue import QueueGauges
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
        app.state.quotas = Quotas(
            app.state.queue, settings.pool.time_zone, settings.api.request_burst
        )
        app.state.senders = SenderRegistry(app.state.queue)
        app.state.backpressure = Backpressure(app.state.queue)
        if settings.api.seed_senders:
            await _bootstrap(app.state.senders)
        app.state.gauges = QueueGauges(
            app.state.queue, app.state.senders, settings.worker.stats_interval_seconds
        )
        try:
            yield
        finally:
            await redis.aclose()

    app = FastAPI(
        title="zapq",
        version="0.1.0",
        summary="WhatsApp notifications at scale, through the Evolution API.",
        description="Authenticate with `Authorization: Bearer <key>`; every error is "
        '`{"error": code, "detail": ...}` (docs/api.md).',
        lifespan=lifespan,
        generate_unique_id_function=contract.operation_id,
    )
    app.state.settings = settings
    app.state.keyring = KeyRing.from_settings(settings)
    app.state.webhook_auth = WebhookAuth(settings.evolution.webhook_token.get_secret_value())
    app.include_router(messages.router)
    app.include_router(queue.router)
    app.include_router(senders.router)
    app.include_router(webhooks.router)
    app.include_router(suppressions.router)
    app.include_router(callbacks.router)
    app.include_router(recipients.router)
    app.include_router(health.router)
    _add_error_handlers(app)
    contract.install(app, settings)
    # The last added runs first: request id and headers, metrics, the key check, then the body.
    api = settings.api
    app.add_middleware(
        BodySizeLimit, max_bytes=api.max_body_bytes, budget_bytes=api.body_budget_bytes
    )
    app.add_middleware(RouteGuard, api=app)
    app.add_middleware(RequestMetrics)
    app.add_middleware(ResponseHeaders)
    return app


async def _bootstrap(registry: SenderRegistry) -> None:
    """Seed the sender registry (ZAPQ_SENDERS); a Redis that is down at start-up is not fatal:
    the API answers 503 until it returns, and the workers seed it too."""
    try:
        await registry.bootstrap()
    except REDIS_ERRORS as exc:
        log.warning("could not seed the sender registry", extra={"error": repr(exc)})


def _error(
    status: int, code: str, detail: object, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
        if exc.retry_after_seconds is not None:
            headers["Retry-After"] = str(exc.retry_after_seconds)
        return _error(exc.status_code, exc.code, exc.detail, headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        malformed = [error for error in errors if error.get("type") == "json_invalid"]
        if malformed:
            detail = f"the body is not valid JSON: {malformed[0].get('ctx', {}).get('error', '')}"
            return _error(400, "malformed_json", detail.rstrip(": "))
        return _error(422, "validation_error", field_errors(errors, tagged=True))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error(
            exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail, exc.headers
        )

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"route": request.url.path})
        return _error(
            500,
            "internal_error",
            "an unexpected error; it is logged with this request's X-Request-ID",
        )

    async def redis_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("redis unavailable", extra={"error": repr(exc)})
        return _error(503, "unavailable", REDIS_DOWN, {"Retry-After": "5"})

    async def redis_full(request: Request, exc: Exception) -> JSONResponse:
        # A script refuses a full Redis's first write whole (service/queue/scripts.py).
        log.error("redis is full: writes refused", extra={"error": repr(exc)})
        return await service_error(request, StorageFull(STORAGE_FULL))

    for error_type in REDIS_ERRORS:
        app.add_exception_handler(error_type, redis_down)  # type: ignore[arg-type]
    for error_type in REDIS_FULL_ERRORS:
        app.add_exception_handler(error_type, redis_full)  # type: ignore[arg-type]
