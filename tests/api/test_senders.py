"""/v1/senders and messages pinned to a sender, through the API on a real Redis."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

VALID = {"to": "+55 11 98765-4321", "text": "Sua fatura vence amanhã"}


async def test_default_sender_from_the_evolution_settings(client: httpx.AsyncClient) -> None:
    [sender] = (await client.get("/v1/senders")).json()
    assert sender["name"] == "zapq" and sender["instance"] == "zapq"
    assert (sender["breaker"], sender["paused"], sender["available"]) == ("closed", False, True)
    assert sender["rate_per_second"] == 50 and sender["own_api_key"] is False
    assert "api_key" not in sender, "keys are never returned"


async def test_put_get_pause_resume_delete(client: httpx.AsyncClient) -> None:
    body = {
        "instance": "billing-1",
        "rate_per_second": 20,
        "burst": 5,
        "daily_limit": 1000,
        "api_key": "instance-token",
        "time_zone": "America/Manaus",
    }
    created = await client.put("/v1/senders/billing", json=body)
    assert created.status_code == 201, created.text
    sender = created.json()
    assert (sender["instance"], sender["daily_limit"], sender["today"]) == ("billing-1", 1000, 0)
    assert sender["own_api_key"] is True and sender["time_zone"] == "America/Manaus"
    replaced = await client.put("/v1/senders/billing", json={**body, "rate_per_second": 10})
    assert replaced.status_code == 200 and replaced.json()["rate_per_second"] == 10
    paused = (await client.post("/v1/senders/billing/pause")).json()
    assert (paused["paused"], paused["available"]) == (True, False)
    assert (await client.post("/v1/senders/billing/resume")).json()["paused"] is False
    assert (await client.get("/v1/senders/billing")).json()["burst"] == 5
    assert (await client.delete("/v1/senders/billing")).status_code == 204
    assert (await client.get("/v1/senders/billing")).status_code == 404
    assert (await client.delete("/v1/senders/billing")).status_code == 404
    assert (await client.post("/v1/senders/billing/pause")).status_code == 404


async def test_bad_sender_bodies_name_the_field(client: httpx.AsyncClient) -> None:
    cases = [
        ({"rate_per_second": 0}, "rate_per_second"),
        ({"burst": 0}, "burst"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"base_url": "ftp://evo"}, "base_url"),
        ({"colour": "blue"}, "colour"),
    ]
    for body, field in cases:
        response = await client.put("/v1/senders/s1", json=body)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["detail"]] == [field], response.json()
    response = await client.put("/v1/senders/bad name", json={})
    assert response.status_code == 422
    assert (await client.get("/v1/senders")).json()[0]["name"] == "zapq", "nothing was written"


async def test_pinned_to_an_unknown_sender_is_refused(
    client: httpx.AsyncClient, redis: Redis
) -> None:
    response = await client.post("/v1/messages", json={**VALID, "sender": "ghost"})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "sender", "message": "no sender named 'ghost' in the pool"}
    ]
    batch = {"messages": [{**VALID, "sender": "zapq"}, {**VALID, "sender": "ghost"}]}
    body = (await client.post("/v1/messages/batch", json=batch)).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["errors"][0]["field"] == "sender"
    message = (await client.get(f"/v1/messages/{body['results'][0]['id']}")).json()
    assert (message["pinned_sender"], message["sender"]) == ("zapq", None)


async def test_senders_need_a_key(app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://zapq.test") as anonymous:
        assert (await anonymous.get("/v1/senders")).status_code == 401
        assert (await anonymous.put("/v1/senders/x", json={})).status_code == 401
