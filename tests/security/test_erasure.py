"""DELETE /v1/recipients/{phone}: nothing of the number is left in Redis (every key scanned, every
value read), other numbers untouched, an opted-out number stays suppressed; texts dropped once
final under api.drop_text_when_final."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from service.queue.keys import DEFAULT
from service.queue.models import Outcome
from service.queue.receipts import Lifecycle
from service.queue.store import MessageQueue
from service.settings import Settings
from tests.security.conftest import PHONE, VALID, _app, auth

OTHER = "5511912345678"


async def _dump(redis: Redis) -> list[bytes]:
    """Every key name and every value in Redis, as bytes."""
    out: list[bytes] = []
    async for key in redis.scan_iter(count=500):
        out.append(key)
        kind = (await redis.type(key)).decode()
        if kind == "string":
            out.append(await redis.get(key) or b"")
        elif kind == "hash":
            for field, value in (await redis.hgetall(key)).items():  # type: ignore[misc]
                out += [field, value]
        elif kind == "zset":
            out += await redis.zrange(key, 0, -1)
        elif kind == "list":
            out += await redis.lrange(key, 0, -1)  # type: ignore[misc]
    return out


def _holds(dump: list[bytes], phone: str) -> list[bytes]:
    return [item for item in dump if phone.encode() in item or phone[-8:].encode() in item]


async def _messages(client: httpx.AsyncClient, to: str) -> list[str]:
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    bodies = [
        {**VALID, "to": to, "idempotency_key": f"k-{to}"},
        {**VALID, "to": to, "send_at": later},
        {**VALID, "to": to, "priority": "urgent"},
    ]
    ids = []
    for body in bodies:
        response = await client.post("/v1/messages", json=body, headers=auth("acme"))
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])
    return ids


async def _dead_letter(app: FastAPI, message_id: str) -> None:
    """Take the message like a worker and record it dead: a dead letter of the number."""
    queue: MessageQueue = app.state.queue
    taken = await queue.take(10, 60, "w1", [("zapq", "2026-01-01")])
    [claim] = [c for c in taken.claims if c.message_id == message_id]
    done = await queue.complete(claim, Outcome.DEAD, error_class="rejected", error="no")
    assert done.recorded


async def _sent_with_callbacks(app: FastAPI, client: httpx.AsyncClient) -> tuple[str, str]:
    """A message of the number sent (its provider id indexed, its callback queued) and the
    customer's reply queued as an inbound.message callback: (message id, provider id)."""
    body = {**VALID, "to": PHONE, "callback_url": "https://hooks.example/zapq"}
    created = await client.post("/v1/messages", json=body, headers=auth("acme"))
    message_id = created.json()["id"]
    queue: MessageQueue = app.state.queue
    taken = await queue.take(10, 60, "w1", [("zapq", "2026-01-01")])
    [claim] = [c for c in taken.claims if c.message_id == message_id]
    done = await queue.complete(claim, Outcome.SENT, provider_id="3EB0ERASE", remote_jid="j")
    assert done.recorded
    reply = {"text": "quem é?"}
    await Lifecycle(queue).inbound(PHONE, url="https://hooks.example/zapq", forward=reply)
    return message_id, "3EB0ERASE"


async def test_erasure_leaves_nothing_of_the_number(
    app: FastAPI, client: httpx.AsyncClient, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    sent, provider_id = await _sent_with_callbacks(app, client)
    ids = [sent, *await _messages(client, PHONE)]
    await _messages(client, OTHER)
    await _dead_letter(app, ids[3])
    await redis.set(DEFAULT.sticky(PHONE), "zapq")
    await redis.zadd(DEFAULT.suppressed, {PHONE: 1})
    assert await redis.exists(DEFAULT.provider(provider_id))
    assert await redis.keys(DEFAULT.callback(f"{sent}.*"))
    assert _holds(await _dump(redis), PHONE)
    with caplog.at_level(logging.INFO, logger="zapq.audit"):
        response = await client.delete("/v1/recipients/+55 11 98765-4321", headers=auth("ops"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "phone": PHONE,
        "messages": 4,
        "idempotency_keys": 1,
        "callback_events": 2,
        "sticky_sender": True,
        "suppressed": True,
    }
    assert not await redis.exists(DEFAULT.provider(provider_id))
    assert not await redis.keys(DEFAULT.callback(f"{sent}.*")), "no callback names its messages"
    left = _holds(await _dump(redis), PHONE)
    # Only the suppression list still names it: an opted-out number stays out.
    assert left == [PHONE.encode()]
    assert await redis.zscore(DEFAULT.suppressed, PHONE) == 1
    for message_id in ids:
        got = await client.get(f"/v1/messages/{message_id}", headers=auth("acme"))
        assert got.status_code == 404
    assert len(_holds(await _dump(redis), OTHER)) > 3  # the other number is untouched
    [line] = [r for r in caplog.records if r.name == "zapq.audit"]
    assert line.params == {"phone": "55*******4321"}  # type: ignore[attr-defined]


async def test_erasing_an_unknown_number_removes_nothing(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"/v1/recipients/{OTHER}", headers=auth("ops"))
    assert response.json() == {
        "phone": OTHER,
        "messages": 0,
        "idempotency_keys": 0,
        "callback_events": 0,
        "sticky_sender": False,
        "suppressed": False,
    }
    bad = await client.delete("/v1/recipients/12345678", headers=auth("ops"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "phone"


async def test_requeue_keeps_the_index_alive(
    app: FastAPI, client: httpx.AsyncClient, redis: Redis
) -> None:
    [message_id, *_] = await _messages(client, PHONE)
    await _dead_letter(app, message_id)
    await redis.pexpire(DEFAULT.recipient(PHONE), 1000)
    queue: MessageQueue = app.state.queue
    assert await queue.requeue([message_id]) == [message_id]
    assert await redis.pttl(DEFAULT.recipient(PHONE)) > 86_400_000


async def test_texts_are_dropped_once_final(keyed: Settings, redis: Redis) -> None:
    api = keyed.api.model_copy(update={"drop_text_when_final": True})
    async for app in _app(keyed.model_copy(update={"api": api})):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            [kept, cancelled, _] = await _messages(client, PHONE)
            response = await client.delete(f"/v1/messages/{cancelled}", headers=auth("acme"))
            assert response.status_code == 200
        queue: MessageQueue = app.state.queue
        record = await queue.get(cancelled)
        assert record is not None and record.content.text == "" and record.status == "cancelled"
        live = await queue.get(kept)
        assert live is not None and live.content.text == VALID["text"]
