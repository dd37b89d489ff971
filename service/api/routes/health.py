"""Probes and metrics: no authentication (they carry no message data)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import QueueDep
from service.redis import REDIS_ERRORS

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(queue: QueueDep) -> JSONResponse:
    """Redis answers: the API can accept messages."""
    try:
        await queue.redis.ping()
    except REDIS_ERRORS as exc:
        return JSONResponse({"status": "unavailable", "redis": repr(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
