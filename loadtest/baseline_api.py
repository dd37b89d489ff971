"""Baseline for the ingest benchmark: a bare FastAPI app doing one Redis write per request."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = Redis.from_url(os.environ["ZAPQ_REDIS_URL"])
    yield
    await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/write", status_code=202)
async def write(request: Request) -> JSONResponse:
    body: dict[str, Any] = await request.json()
    key = uuid.uuid4().hex
    await request.app.state.redis.set(f"bare:{key}", body["text"])
    return JSONResponse({"id": key}, 202)


@app.post("/write-batch", status_code=202)
async def write_batch(request: Request) -> JSONResponse:
    body: dict[str, Any] = await request.json()
    async with request.app.state.redis.pipeline(transaction=False) as pipe:
        for item in body["messages"]:
            pipe.set(f"bare:{uuid.uuid4().hex}", item["text"])
        await pipe.execute()
    return JSONResponse({"accepted": len(body["messages"])}, 202)
