"""Probes and metrics: no authentication (they carry no message data).

A failed /readyz answers only ``{"status": "unavailable"}``: anyone who can reach the port may read
it, so Redis's address and error (and whether it is down or full) stay in the log line it writes.
"""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from redis.exceptions import RedisError

from service.api.deps import QueueDep
from service.metrics.queue import QueueGauges
from service.redis import REDIS_ERRORS, REDIS_FULL_ERRORS, accepts_writes

router = APIRouter(tags=["health"])
# What the write probe may meet besides an outage: MISCONF (persistence failing) is a RedisError.
_PROBE_ERRORS: tuple[type[BaseException], ...] = (*REDIS_ERRORS, RedisError)
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
    """Redis takes writes: the API can accept messages. A write that changes nothing, so that a
    full Redis (or a demoted master, or failing persistence) reports not ready, not only a down
    one."""
    try:
        await accepts_writes(queue.redis, queue.keys.queue)
    except _PROBE_ERRORS as exc:
        reason = "redis_full" if isinstance(exc, REDIS_FULL_ERRORS) else "redis_unavailable"
        error = f"{type(exc).__name__}: {exc}"
        log.warning("not ready: redis", extra={"reason": reason, "error": error})
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus exposition; the queue-wide gauges are read from Redis now (QueueGauges)."""
    gauges: QueueGauges = request.app.state.gauges
    return Response(await gauges.exposition(), media_type=CONTENT_TYPE_LATEST)
