"""Probes and metrics: no authentication (they carry no message data).

A failed /readyz answers only ``{"status": "unavailable"}``: anyone who can reach the port may read
it, so Redis's address and error stay in the log line it writes.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from service.api.deps import QueueDep
from service.metrics.queue import QueueGauges
from service.redis import REDIS_ERRORS

router = APIRouter(tags=["health"])
log = logging.getLogger("zapq.api")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving."""
    return {"status": "ok"}


class StatusOut(BaseModel):
    status: Literal["ok", "unavailable"]


@router.get(
    "/readyz",
    response_model=StatusOut,
    responses={503: {"model": StatusOut, "description": "Redis is unreachable."}},
)
async def readyz(queue: QueueDep) -> JSONResponse:
    """Redis answers: the API can accept messages."""
    try:
        await queue.redis.ping()
    except REDIS_ERRORS as exc:
        log.warning("not ready: redis", extra={"error": f"{type(exc).__name__}: {exc}"})
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus exposition; the queue-wide gauges are read from Redis now (QueueGauges)."""
    gauges: QueueGauges = request.app.state.gauges
    return Response(await gauges.exposition(), media_type=CONTENT_TYPE_LATEST)
