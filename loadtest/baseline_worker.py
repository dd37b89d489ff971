"""Baseline for the CPU benchmark: a bare arq worker whose job posts to Evolution with httpx.

arq's defaults except what the comparison needs: the zapq queue and JSON job format, a 20 ms poll
(arq's 0.5 s would cap it near 20 msg/s), and max_jobs 5, which at 100 ms latency paces it at
50 msg/s like a zapq worker. Run: python -m arq loadtest.baseline_worker.WorkerSettings
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from arq.connections import RedisSettings

from service.queue.keys import DEFAULT
from service.queue.models import Content


async def startup(ctx: dict[str, Any]) -> None:
    ctx["http"] = httpx.AsyncClient(
        base_url=os.environ["ZAPQ_EVOLUTION__BASE_URL"], headers={"apikey": "evo-key"}, timeout=30
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["http"].aclose()


async def send_message(ctx: dict[str, Any], message_id: str) -> None:
    redis = ctx["redis"]
    key = DEFAULT.message(message_id)
    record = await redis.hgetall(key)
    text = Content.decode(record[b"payload"]).text
    response = await ctx["http"].post(
        "/message/sendText/zapq", json={"number": record[b"to"].decode(), "text": text}
    )
    response.raise_for_status()
    await redis.hset(key, mapping={"status": "sent", "provider_id": response.json()["key"]["id"]})


class WorkerSettings:
    functions = [send_message]
    on_startup = startup
    on_shutdown = shutdown
    queue_name = DEFAULT.queue
    redis_settings = RedisSettings.from_dsn(
        os.environ.get("ZAPQ_REDIS_URL", "redis://127.0.0.1:6379")
    )
    job_deserializer = json.loads
    job_serializer = staticmethod(lambda obj: json.dumps(obj).encode())
    max_jobs = 5
    poll_delay = 0.02
