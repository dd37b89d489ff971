"""POST/GET/DELETE /v1/messages over the real app and a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from redis.asyncio import Redis

from service.queue import keys

VALID = {"to": "+55 11 98765-4321", "text": "Sua fatura vence amanhã"}
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).isoformat()
# A well-formed message id (a ULID) of no message.
UNKNOWN = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


async def queue_size(redis: Redis) -> int:
    default = keys.DEFAULT
    return int(await redis.zcard(default.queue)) + int(await redis.zcard(default.scheduled))


async def test_accepts_and_normalises(client: httpx.AsyncClient, redis: Redis) -> None:
    response = await client.post(
        "/v1/messages", json={**VALID, "priority": "urgent", "metadata": {"a": 1}}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["to"] == "5511987654321"
    assert body["status"] == "queued"
    assert body["priority"] == "urgent"
    assert body["metadata"] == {"a": 1}
    assert [h["status"] for h in body["history"]] == ["queued"]
    fetched = (await client.get(f"/v1/messages/{body['id']}")).json()
    assert fetched["id"] == body["id"] and fetched["status"] == "queued"
    assert await redis.zcard(keys.DEFAULT.queue) == 1


async def test_local_number_uses_default_region(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages", json={**VALID, "to": "(11) 98765-4321"})
    assert response.json()["to"] == "5511987654321"


@pytest.mark.parametrize(
    ("patch", "field", "fragment"),
    [
        ({"to": "12345678"}, "to", "not a valid phone number"),
        ({"to": "banana"}, "to", "not a phone number"),
        ({"text": "   "}, "text", "must not be empty"),
        ({"text": "x" * 4097}, "text", "longer than 4096"),
        ({"priority": "asap"}, "priority", "urgent"),
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"expires_at": YESTERDAY}, "expires_at", "in the past"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at", "more than 366 days"),
        ({"send_at": "9999-12-31T23:59:59-03:00"}, "send_at", "more than 366 days"),
        ({"send_at": "0001-01-01T00:00:00+01:00"}, "send_at", "more than 366 days"),
        ({"expires_at": "9999-12-31T23:59:59-03:00"}, "expires_at", "more than 366 days"),
        ({"send_at": "2030-01-01T00:00:00"}, "send_at", "timezone"),
        ({"metadata": {"k": "v" * 5000}}, "metadata", "larger than"),
        ({"metadata": {"k": {"nested": 1}}}, "metadata.k", ""),
        ({"metadata": {"k": 2**64}}, "metadata", "64 bits"),  # was a 500: the payload's JSON
    ],
)
async def test_validation_names_the_field(
    client: httpx.AsyncClient, redis: Redis, patch: dict[str, object], field: str, fragment: str
) -> None:
    response = await client.post("/v1/messages", json={**VALID, **patch})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    fields = {error["field"]: error["message"] for error in body["detail"]}
    assert any(
        name.startswith(field) and fragment in message for name, message in fields.items()
    ), fields
    assert await queue_size(redis) == 0


async def test_missing_fields_are_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages", json={})
    assert {e["field"] for e in response.json()["detail"]} == {"to", "text"}
    response = await client.post("/v1/messages", json={"to": "+5511987654321"})
    assert response.json()["detail"] == [{"field": "text", "message": "Field required"}]


async def test_expiry_must_follow_send_at(client: httpx.AsyncClient) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    body = {
        **VALID,
        "send_at": (soon + timedelta(hours=1)).isoformat(),
        "expires_at": soon.isoformat(),
    }
    response = await client.post("/v1/messages", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "expires_at", "message": "must be after send_at"}
    ]


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": ""}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}],
)
async def test_auth_required(
    client: httpx.AsyncClient, redis: Redis, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/messages", json=VALID, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/v1/queue", headers=headers)).status_code == 401
    assert await queue_size(redis) == 0


async def test_second_key_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages", json=VALID, headers={"Authorization": "Bearer other-key"}
    )
    assert response.status_code == 202


async def test_body_too_large(client: httpx.AsyncClient, settings: object, redis: Redis) -> None:
    huge = {"messages": [{**VALID, "text": "x" * 4000}] * 1100}
    response = await client.post("/v1/messages/batch", json=huge)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await queue_size(redis) == 0


async def test_streamed_body_too_large_without_content_length(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 65536

    response = await client.post(
        "/v1/messages", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert await queue_size(redis) == 0


async def test_idempotency_key_in_body(client: httpx.AsyncClient, redis: Redis) -> None:
    first = await client.post("/v1/messages", json={**VALID, "idempotency_key": "inv-1"})
    again = await client.post("/v1/messages", json={**VALID, "idempotency_key": "inv-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await redis.zcard(keys.DEFAULT.queue) == 1


async def test_idempotency_header_and_namespaces(client: httpx.AsyncClient, redis: Redis) -> None:
    first = await client.post("/v1/messages", json=VALID, headers={"Idempotency-Key": "h-1"})
    again = await client.post("/v1/messages", json=VALID, headers={"Idempotency-Key": "h-1"})
    other_key = await client.post(
        "/v1/messages",
        json=VALID,
        headers={"Idempotency-Key": "h-1", "Authorization": "Bearer other-key"},
    )
    assert again.json()["id"] == first.json()["id"]
    assert other_key.json()["id"] != first.json()["id"], "idempotency keys are per API key"
    assert await redis.zcard(keys.DEFAULT.queue) == 2


async def test_idempotency_key_reused_with_other_body(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    await client.post("/v1/messages", json={**VALID, "idempotency_key": "k"})
    response = await client.post(
        "/v1/messages", json={**VALID, "text": "other", "idempotency_key": "k"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert await redis.zcard(keys.DEFAULT.queue) == 1


async def test_header_and_body_keys_must_agree(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages", json={**VALID, "idempotency_key": "a"}, headers={"Idempotency-Key": "b"}
    )
    assert response.status_code == 422


async def test_idempotency_key_expires(client: httpx.AsyncClient, redis: Redis) -> None:
    await client.post("/v1/messages", json={**VALID, "idempotency_key": "ttl"})
    [key] = await redis.keys("{zapq}:idem:*")
    ttl = await redis.ttl(key)
    assert 86_000 < ttl <= 86_400


async def test_send_at_schedules(client: httpx.AsyncClient, redis: Redis) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    body = (await client.post("/v1/messages", json={**VALID, "send_at": later.isoformat()})).json()
    assert body["status"] == "scheduled"
    assert await redis.zcard(keys.DEFAULT.scheduled) == 1
    assert await redis.zcard(keys.DEFAULT.queue) == 0
    # Default validity counts from the due time, not from now.
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs((expires - later).total_seconds() - 86_400) < 2


# A well-formed message id (a ULID) that no message has; a malformed one is a 422
# (tests/api/test_bounds.py).
UNKNOWN_ID = "01" + "Z" * 24


async def test_cancel(client: httpx.AsyncClient, redis: Redis) -> None:
    created = (await client.post("/v1/messages", json=VALID)).json()
    cancelled = await client.delete(f"/v1/messages/{created['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert await redis.zcard(keys.DEFAULT.queue) == 0
    assert await redis.keys("arq:job:*") == []
    again = await client.delete(f"/v1/messages/{created['id']}")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    assert (await client.delete(f"/v1/messages/{UNKNOWN}")).status_code == 404
    assert (await client.delete("/v1/messages/nope")).status_code == 422


async def test_cancel_scheduled(client: httpx.AsyncClient, redis: Redis) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = (await client.post("/v1/messages", json={**VALID, "send_at": later})).json()
    assert (await client.delete(f"/v1/messages/{created['id']}")).json()["status"] == "cancelled"
    assert await redis.zcard(keys.DEFAULT.scheduled) == 0


async def test_unknown_message(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/messages/{UNKNOWN}")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": f"no message {UNKNOWN}"}


async def test_record_has_ttl(client: httpx.AsyncClient, redis: Redis) -> None:
    created = (await client.post("/v1/messages", json=VALID)).json()
    ttl = await redis.ttl(keys.DEFAULT.message(created["id"]))
    # validity (1 day) + retention (7 days)
    assert 8 * 86_400 - 10 < ttl <= 8 * 86_400
    [job] = await redis.keys("arq:job:*")
    assert await redis.ttl(job) > 86_400
