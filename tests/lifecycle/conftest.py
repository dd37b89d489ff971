"""The delivery lifecycle against the real Redis: a queue with one fast sender, messages taken to
``sent`` the way a worker records them, the API in-process with a webhook token, and a callback
receiver on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis

from service.api.app import create_app
from service.queue.callbacks import CallbackQueue
from service.queue.models import NewMessage, Outcome
from service.queue.receipts import Lifecycle
from service.queue.store import MessageQueue
from service.settings import Settings
from tests.lifecycle.receiver import Receiver
from tests.queue.conftest import take_one

HOOK = "http://127.0.0.1:9/hooks"
TOKEN = "webhook-token-0123456789abcdefghijklmnop"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "evolution": settings.evolution.model_copy(update={"webhook_token": SecretStr(TOKEN)}),
            "callbacks": settings.callbacks.model_copy(update={"default_url": HOOK}),
        }
    )


@pytest.fixture
async def client(hook_settings: Settings, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(hook_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://zapq.test") as c:
            yield c


def envelope(event: str, data: Any, instance: str = "zapq") -> dict[str, Any]:
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": "http://zapq.test/v1/webhooks/evolution",
        "date_time": "2026-03-02T12:00:00.000Z",
        "sender": "5511900000000@s.whatsapp.net",
        "server_url": "http://evolution:8080",
        "apikey": None,
    }


async def post(
    client: httpx.AsyncClient, body: Any, headers: dict[str, str] = BEARER, path: str = ""
) -> httpx.Response:
    return await client.post(f"/v1/webhooks/evolution{path}", json=body, headers=headers)


@pytest.fixture
def lifecycle(queue: MessageQueue) -> Lifecycle:
    return Lifecycle(queue)


@pytest.fixture
def callbacks(queue: MessageQueue) -> CallbackQueue:
    return CallbackQueue(queue)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def sent_message(
    queue: MessageQueue, provider_id: str, *, to: str = "5511987654321", **kwargs: Any
) -> str:
    """Enqueue one message, take it and record it sent as Evolution's ``provider_id``."""
    kwargs.setdefault("callback_url", HOOK)
    [result] = await queue.enqueue([NewMessage(to=to, text="oi", **kwargs)], "k")
    claim = await take_one(queue, result.message_id)
    await queue.complete(claim, Outcome.SENT, provider_id=provider_id, remote_jid=f"{to}@s")
    return result.message_id
