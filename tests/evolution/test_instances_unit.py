"""The instance-management calls (for the operator) against httpx.MockTransport."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from service.evolution.client import EvolutionClient
from service.evolution.errors import (
    EvolutionInstanceNotFound,
    EvolutionRejected,
    EvolutionUnexpectedResponse,
)
from tests.evolution.test_client_unit import SETTINGS, Handler, answer, envelope


def client(handler: Handler) -> EvolutionClient:
    return EvolutionClient(SETTINGS, transport=httpx.MockTransport(handler))


async def test_connection_state() -> None:
    body = {"instance": {"instanceName": "zapq", "state": "open"}}
    async with client(answer(200, body)) as evolution:
        assert await evolution.connection_state() == "open"
    async with client(answer(200, {"instance": {"instanceName": "zapq"}})) as evolution:
        assert await evolution.connection_state("other") == "unknown"


async def test_whatsapp_numbers() -> None:
    found = [{"jid": "5511987650000@s.whatsapp.net", "exists": True, "number": "5511987650000"}]
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=found)

    async with client(handle) as evolution:
        assert await evolution.whatsapp_numbers(["5511987650000"]) == found
    assert seen[0].url.path == "/chat/whatsappNumbers/zapq"
    assert orjson.loads(seen[0].content) == {"numbers": ["5511987650000"]}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"not": "a list"}, EvolutionUnexpectedResponse),
        (400, {"status": 400, "error": "Bad Request", "message": ["x"]}, EvolutionRejected),
        (400, {}, EvolutionRejected),
    ],
)
async def test_whatsapp_numbers_errors(status: int, body: Any, error: type[Exception]) -> None:
    async with client(answer(status, body)) as evolution:
        with pytest.raises(error):
            await evolution.whatsapp_numbers(["1"])


async def test_create_instance() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"instance": {"instanceName": "n"}, "hash": "TOKEN"})

    webhook = {"enabled": True, "url": "http://hook", "events": ["MESSAGES_UPDATE"]}
    async with client(handle) as evolution:
        created = await evolution.create_instance("n", token="TOKEN", webhook=webhook)
    assert created["hash"] == "TOKEN"
    assert seen[0].url.path == "/instance/create"
    assert orjson.loads(seen[0].content) == {
        "instanceName": "n",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": False,
        "token": "TOKEN",
        "webhook": webhook,
    }


async def test_delete_and_fetch_instances() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "DELETE":
            done = {
                "status": "SUCCESS",
                "error": False,
                "response": {"message": "Instance deleted"},
            }
            return httpx.Response(200, json=done)
        return httpx.Response(200, json=[{"name": "n", "connectionStatus": "open"}])

    async with client(handle) as evolution:
        await evolution.delete_instance("n")
        assert await evolution.fetch_instances("n") == [{"name": "n", "connectionStatus": "open"}]
        await evolution.fetch_instances()
    assert [(r.method, r.url.path, r.url.query) for r in seen] == [
        ("DELETE", "/instance/delete/n", b""),
        ("GET", "/instance/fetchInstances", b"instanceName=n"),
        ("GET", "/instance/fetchInstances", b""),
    ]


async def test_instance_route_errors_are_classified() -> None:
    missing = envelope(404, "Not Found", ['Instance "n" not found'])
    async with client(answer(404, missing)) as evolution:
        with pytest.raises(EvolutionInstanceNotFound):
            await evolution.fetch_instances("n")
        with pytest.raises(EvolutionInstanceNotFound):
            await evolution.delete_instance("n")
    async with client(answer(201, ["not", "an", "object"])) as evolution:
        with pytest.raises(EvolutionUnexpectedResponse):
            await evolution.create_instance("n")
