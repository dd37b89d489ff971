"""Every query parameter and body field that reaches Redis has a range: out of it is a 422 naming
the parameter, never a Redis error. The dead-letter filter pages over the filtered set."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from service.api.schemas import ErrorClass
from service.evolution.errors import ERROR_CLASSES
from service.queue.models import NewMessage, Outcome
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec, Settings
from service.worker.delivery import SenderGone


def test_error_classes_are_every_class_a_worker_records() -> None:
    recorded = [*ERROR_CLASSES, "redelivery_limit", SenderGone.error_class]
    assert [str(value) for value in ErrorClass] == recorded


def field_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    return [problem["field"] for problem in body["detail"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=-1", "query.offset"),
        ("offset=1000001", "query.offset"),
        ("offset=99999999999999999999", "query.offset"),
        ("limit=0", "query.limit"),
        ("limit=1001", "query.limit"),
        ("limit=x", "query.limit"),
        ("error_class=nope", "query.error_class"),
    ],
)
async def test_dead_letter_parameters_out_of_range(
    client: httpx.AsyncClient, query: str, field: str
) -> None:
    assert field_of(await client.get(f"/v1/dead-letters?{query}")) == [field]


async def test_message_ids_have_a_format(client: httpx.AsyncClient) -> None:
    for bad in ("nope", "01NOPE", "0" * 27, "{zapq}:queue", "01" + "I" * 24):
        assert field_of(await client.get(f"/v1/messages/{bad}")) == ["path.message_id"]
        assert field_of(await client.delete(f"/v1/messages/{bad}")) == ["path.message_id"]
        response = await client.post(f"/v1/dead-letters/{bad}/requeue")
        assert field_of(response) == ["path.message_id"]


async def test_requeue_filter_is_an_error_class(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/dead-letters/requeue", json={"error_class": "nope"})
    assert field_of(response) == ["error_class"]


async def dead_letters(redis: Redis, settings: Settings, classes: list[str]) -> list[str]:
    """Dead letters with these last error classes, oldest first."""
    queue = MessageQueue(redis, settings)
    await SenderRegistry(queue).put(SenderSpec(name="s1", rate_per_second=1000, burst=1000))
    ids = []
    for error_class in classes:
        await queue.enqueue([NewMessage(to="5511987654321", text="oi")], "k")
        [claim] = (await queue.take(1, 30, "w", [("s1", "2026-01-01")])).claims
        await queue.complete(claim, Outcome.DEAD, error="e", error_class=error_class)
        ids.append(claim.message_id)
    return ids


async def test_the_filter_pages_over_the_matching_dead_letters(
    client: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    classes = ["timeout", "server_error", "timeout", "timeout", "server_error", "timeout"]
    ids = await dead_letters(redis, settings, classes)
    timeouts = [mid for mid, cls in zip(ids, classes, strict=True) if cls == "timeout"][::-1]
    pages = []
    for offset in (0, 2, 4):
        response = await client.get(f"/v1/dead-letters?error_class=timeout&limit=2&offset={offset}")
        body = response.json()
        assert body["total"] == 4, "the total counts the matching ones"
        pages.append([item["id"] for item in body["items"]])
    assert pages == [timeouts[:2], timeouts[2:], []], "newest first, over the filtered set"
    everything = (await client.get("/v1/dead-letters?limit=3")).json()
    assert everything["total"] == 6
    assert [item["id"] for item in everything["items"]] == ids[::-1][:3]
    far = (await client.get("/v1/dead-letters?offset=1000000")).json()
    assert (far["total"], far["items"]) == (6, [])
