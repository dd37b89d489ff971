"""The instance-management calls (service/evolution/admin.py, for the operator) and the chat
lookup against httpx.MockTransport."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from service.evolution.admin import EvolutionAdmin, NewInstance, webhook_config
from service.evolution.client import EvolutionClient
from service.evolution.errors import (
    EvolutionInstanceNotFound,
    EvolutionRejected,
    EvolutionUnexpectedResponse,
)
from tests.evolution.test_client_unit import SETTINGS, Handler, answer, envelope


def client(handler: Handler) -> EvolutionClient:
    return EvolutionClient(SETTINGS, transport=httpx.MockTransport(handler))


def admin(handler: Handler) -> EvolutionAdmin:
    key = SecretStr("global-key")
    return EvolutionAdmin("http://evolution.test", key, transport=httpx.MockTransport(handler))


async def test_connection_state() -> None:
    body = {"instance": {"instanceName": "zapq", "state": "open"}}
    async with admin(answer(200, body)) as evolution:
        assert await evolution.connection_state("zapq") == "open"
    async with admin(answer(200, {"instance": {"instanceName": "zapq"}})) as evolution:
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

    business = NewInstance(
        "n", "WHATSAPP-BUSINESS", SecretStr("TOKEN"), number="1234", business_id="99"
    )
    async with admin(handle) as evolution:
        created = await evolution.create_instance(business)
        await evolution.create_instance(NewInstance("b"))
    assert created["hash"] == "TOKEN"
    assert seen[0].url.path == "/instance/create"
    assert seen[0].headers["apikey"] == "global-key"
    assert orjson.loads(seen[0].content) == {
        "instanceName": "n",
        "integration": "WHATSAPP-BUSINESS",
        "qrcode": False,
        "token": "TOKEN",
        "number": "1234",
        "businessId": "99",
    }
    assert orjson.loads(seen[1].content) == {
        "instanceName": "b",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": False,
    }


async def test_webhook_connect_and_logout() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.startswith("/webhook/set"):
            return httpx.Response(201, json={"id": "w", "enabled": True})
        if request.url.path.startswith("/instance/connect"):
            return httpx.Response(200, json={"code": "2@abc", "pairingCode": "ABCD1234"})
        return httpx.Response(200, json={"status": "SUCCESS", "error": False})

    hook = webhook_config("http://zapq/v1/webhooks/evolution", SecretStr("hook-token"))
    async with admin(handle) as evolution:
        await evolution.set_webhook("n", hook)
        assert (await evolution.connect("n", "5511987650000"))["code"] == "2@abc"
        await evolution.logout("n")
    assert orjson.loads(seen[0].content) == {
        "webhook": {
            "enabled": True,
            "url": "http://zapq/v1/webhooks/evolution",
            "headers": {"Authorization": "Bearer hook-token"},
            "byEvents": False,
            "base64": False,
            "events": [
                "MESSAGES_UPDATE",
                "MESSAGES_UPSERT",
                "CONNECTION_UPDATE",
                "QRCODE_UPDATED",
                "SEND_MESSAGE",
            ],
        }
    }
    assert [(r.method, r.url.path, r.url.query) for r in seen[1:]] == [
        ("GET", "/instance/connect/n", b"number=5511987650000"),
        ("DELETE", "/instance/logout/n", b""),
    ]


async def test_connect_error_object_is_an_error() -> None:
    refused = {"error": True, "message": "Error: instance not found"}
    async with admin(answer(200, refused)) as evolution:
        with pytest.raises(EvolutionUnexpectedResponse, match="instance not found"):
            await evolution.connect("n")


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

    async with admin(handle) as evolution:
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
    async with admin(answer(404, missing)) as evolution:
        with pytest.raises(EvolutionInstanceNotFound):
            await evolution.fetch_instances("n")
        with pytest.raises(EvolutionInstanceNotFound):
            await evolution.delete_instance("n")
    async with admin(answer(201, ["not", "an", "object"])) as evolution:
        with pytest.raises(EvolutionUnexpectedResponse):
            await evolution.create_instance(NewInstance("n"))
    in_use = envelope(403, "Forbidden", ['This name "n" is already in use.'])
    async with admin(answer(403, in_use)) as evolution:
        with pytest.raises(EvolutionUnexpectedResponse) as caught:
            await evolution.create_instance(NewInstance("n"))
    assert caught.value.status_code == 403
