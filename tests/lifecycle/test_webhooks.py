"""POST /v1/webhooks/evolution in-process against the real Redis: authentication (token, JWT,
anything else 401 with no effect), receipts in and out of order and duplicated, unknown key ids,
the by-event paths and connection state (customers' messages: test_optout.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from service.queue.callbacks import CallbackQueue
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.sim.tokens import encode_hs256, webhook_claims, webhook_token
from tests.lifecycle.conftest import BEARER, TOKEN, envelope, post, sent_message


def update(key_id: str, status: str, **extra: Any) -> dict[str, Any]:
    data = {"keyId": key_id, "remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True}
    return envelope("messages.update", {**data, "status": status, **extra})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdefghijklmnop"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {webhook_token('another-key-0123456789abcdefghijklmnop')}"},
        {"Authorization": f"Bearer {encode_hs256(webhook_claims(0), TOKEN)}"},  # expired
        {"Authorization": f"Bearer {encode_hs256({'iat': 1, 'app': 'x'}, TOKEN)}"},  # no exp
    ],
    ids=["none", "wrong", "scheme", "jwt-other-key", "jwt-expired", "jwt-without-exp"],
)
async def test_anything_but_the_token_is_refused_with_no_effect(
    client: httpx.AsyncClient, queue: MessageQueue, headers: dict[str, str]
) -> None:
    message_id = await sent_message(queue, "3EB0AA")
    response = await post(client, update("3EB0AA", "READ"), headers)
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"
    assert (await queue.get(message_id)).status == "sent"  # type: ignore[union-attr]


async def test_the_jwt_form_and_the_by_event_path(
    client: httpx.AsyncClient, queue: MessageQueue
) -> None:
    message_id = await sent_message(queue, "3EB0AA")
    jwt = {"Authorization": f"Bearer {webhook_token(TOKEN)}"}
    body = update("3EB0AA", "DELIVERY_ACK")
    del body["event"]  # byEvents: the path names it
    response = await post(client, body, jwt, path="/messages-update")
    assert response.json() == {"event": "messages.update", "outcomes": ["applied"]}
    record = await queue.get(message_id)
    assert record is not None and record.status == "delivered" and record.delivered_at_ms


async def test_out_of_order_and_duplicated_receipts(
    client: httpx.AsyncClient, queue: MessageQueue, redis: Redis
) -> None:
    message_id = await sent_message(queue, "3EB0AA")
    outcomes = []
    for status in ["READ", "DELIVERY_ACK", "SERVER_ACK", "READ", "PLAYED", "PENDING"]:
        response = await post(client, update("3EB0AA", status))
        assert response.status_code == 200
        outcomes += response.json()["outcomes"]
    assert outcomes == ["applied", "stale", "stale", "duplicate", "duplicate", "ignored"]
    response = await client.get(
        f"/v1/messages/{message_id}", headers={"Authorization": "Bearer test-key"}
    )
    body = response.json()
    assert body["status"] == "read" and body["read_at"] and body["delivered_at"]
    assert [h["status"] for h in body["history"]][-2:] == ["sent", "read"]
    events = (await CallbackQueue(queue).claim(10, 30_000, 10)).events
    assert [e.type for e in events] == ["message.sent", "message.read"]


async def test_unknown_key_id_is_acknowledged_and_counted(client: httpx.AsyncClient) -> None:
    response = await post(client, update("3EB0NOTOURS", "DELIVERY_ACK"))
    assert response.status_code == 200 and response.json()["outcomes"] == ["unknown"]
    metrics = (await client.get("/metrics")).text
    assert 'zapq_webhook_events_total{event="messages.update",outcome="unknown"}' in metrics


async def test_error_receipt_fails_the_message(
    client: httpx.AsyncClient, queue: MessageQueue
) -> None:
    message_id = await sent_message(queue, "3EB0AA")
    assert (await post(client, update("3EB0AA", "ERROR"))).json()["outcomes"] == ["applied"]
    record = await queue.get(message_id)
    assert record is not None and (record.status, record.error_class) == (
        "failed",
        "delivery_failed",
    )


async def test_malformed_bodies_are_refused_and_other_events_ignored(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.post("/v1/webhooks/evolution", content=b"{", headers=BEARER)
    assert (bad.status_code, bad.json()["error"]) == (400, "malformed_json")
    other = await post(client, envelope("qrcode.updated", {"qrcode": {}}))
    assert other.json() == {"event": "qrcode.updated", "outcomes": ["ignored"]}


async def test_connection_update_pauses_and_resumes_routing(
    client: httpx.AsyncClient, queue: MessageQueue
) -> None:
    registry = SenderRegistry(queue)  # the queue fixture's sender s1 has instance s1
    closed = await post(client, envelope("connection.update", {"state": "close"}, "s1"))
    assert closed.json()["outcomes"] == ["applied"]
    assert (await registry.get("s1")).connection == "close"  # type: ignore[union-attr]
    connecting = await post(client, envelope("connection.update", {"state": "connecting"}, "s1"))
    assert connecting.json()["outcomes"] == ["ignored"]
    assert (await registry.get("s1")).connection == "close"  # type: ignore[union-attr]
    await post(client, envelope("connection.update", {"state": "open"}, "s1"))
    assert (await registry.get("s1")).connection == "open"  # type: ignore[union-attr]
    other = await post(client, envelope("connection.update", {"state": "close"}, "nobody"))
    assert other.json()["outcomes"] == ["unknown"]
