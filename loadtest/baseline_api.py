"""Baseline for the ingest benchmarks: a bare FastAPI app doing one Redis write per request.

/write takes any JSON; /write-validated validates the body with zapq's own request model (the same
pydantic schema, without zapq's phone, text and date checks) before its one write: the baseline
the ingest benchmark compares zapq's POST /v1/messages with.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from redis.asyncio import Redis

from service.api.schemas import MessageIn

_MESSAGE: TypeAdapter[MessageIn] = TypeAdapter(MessageIn)


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


@app.post("/write-validated", status_code=202)
async def write_validated(request: Request) -> JSONResponse:
    message = _MESSAGE.validate_json(await request.body())
    key = uuid.uuid4().hex
    await request.app.state.redis.set(f"bare:{key}", message.model_dump_json())
    return JSONResponse({"id": key}, 202)
