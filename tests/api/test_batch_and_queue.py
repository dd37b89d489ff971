"""Batch enqueue, the queue view, probes and the OpenAPI document."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from service.queue import keys

VALID = {"to": "+5511987654321", "text": "oi"}


async def test_batch_partial_acceptance(client: httpx.AsyncClient, redis: Redis) -> None:
    items = [VALID, {**VALID, "to": "nope"}, {**VALID, "priority": "low"}, {"text": "no number"}]
    response = await client.post("/v1/messages/batch", json={"messages": items})
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert body["results"][1]["errors"][0]["field"] == "to"
    assert body["results"][3]["errors"][0]["field"] == "to"
    assert await redis.zcard(keys.DEFAULT.queue) == 2


async def test_batch_limits(client: httpx.AsyncClient, redis: Redis) -> None:
    too_many = await client.post("/v1/messages/batch", json={"messages": [VALID] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["field"] == "messages"
    empty = await client.post("/v1/messages/batch", json={"messages": []})
    assert empty.status_code == 422
    extra = await client.post("/v1/messages/batch", json={"messages": [VALID], "x": 1})
    assert extra.status_code == 422
    assert await redis.zcard(keys.DEFAULT.queue) == 0


async def test_batch_thousand(client: httpx.AsyncClient, redis: Redis) -> None:
    items = [{**VALID, "text": f"m{i}"} for i in range(1000)]
    body = (await client.post("/v1/messages/batch", json={"messages": items})).json()
    assert body["accepted"] == 1000
    assert len({r["id"] for r in body["results"]}) == 1000
    assert await redis.zcard(keys.DEFAULT.queue) == 1000


async def test_batch_idempotency(client: httpx.AsyncClient, redis: Redis) -> None:
    items = [{**VALID, "idempotency_key": "a"}, {**VALID, "text": "b"}]
    first = (
        await client.post(
            "/v1/messages/batch", json={"messages": items}, headers={"Idempotency-Key": "B1"}
        )
    ).json()
    again = (
        await client.post(
            "/v1/messages/batch", json={"messages": items}, headers={"Idempotency-Key": "B1"}
        )
    ).json()
    assert [r["id"] for r in again["results"]] == [r["id"] for r in first["results"]]
    assert [r["duplicate"] for r in again["results"]] == [True, True]
    assert await redis.zcard(keys.DEFAULT.queue) == 2
    # The same key inside one batch: the second item is a duplicate of the first.
    twice = [{**VALID, "idempotency_key": "z"}, {**VALID, "idempotency_key": "z"}]
    result = (await client.post("/v1/messages/batch", json={"messages": twice})).json()
    assert result["results"][0]["id"] == result["results"][1]["id"]
    assert result["results"][1]["duplicate"] is True


async def test_queue_view(client: httpx.AsyncClient) -> None:
    items = [{**VALID, "priority": p} for p in ("urgent", "normal", "normal", "low")]
    await client.post("/v1/messages/batch", json={"messages": items})
    body = (await client.get("/v1/queue")).json()
    assert body["ready"] == {"urgent": 1, "normal": 2, "low": 1}
    assert body["ready_total"] == 4
    assert body["in_flight"] == body["scheduled"] == body["retrying"] == body["dead_letters"] == 0
    assert set(body["oldest_ready_age_seconds"]) == {"urgent", "normal", "low"}


async def test_probes_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz", headers={"Authorization": ""})).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}
    metrics = (await client.get("/metrics")).text
    assert "zapq_http_requests_total" in metrics
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/messages", "/v1/messages/batch", "/v1/queue", "/v1/dead-letters"} <= set(
        spec["paths"]
    )


async def test_metrics_use_route_templates(client: httpx.AsyncClient) -> None:
    await client.get("/v1/messages/SOMEID")
    text = (await client.get("/metrics")).text
    assert 'route="/v1/messages/{message_id}"' in text
    assert "SOMEID" not in text


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_counters_count_every_request_and_message(client: httpx.AsyncClient) -> None:
    """Series are looked up once and counted once per request: the totals stay exact."""
    route = "/v1/messages/batch"
    requests = {"method": "POST", "route": route, "status": "202"}
    accepted = {"priority": "low", "source": "api", "kind": "text"}

    def totals() -> list[float]:
        return [
            _sample("zapq_http_requests_total", **requests),
            _sample("zapq_http_request_duration_seconds_count", method="POST", route=route),
            _sample("zapq_messages_accepted_total", **accepted),
            _sample("zapq_messages_rejected_total", reason="validation"),
        ]

    before = totals()
    items = [{**VALID, "priority": "low"}] * 3 + [{**VALID, "to": "nope"}] * 2
    for _ in range(2):
        answer = await client.post("/v1/messages/batch", json={"messages": items})
        assert answer.status_code == 202
    assert [b - a for a, b in zip(before, totals(), strict=True)] == [2, 2, 6, 4]
