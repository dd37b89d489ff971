"""EvolutionClient against httpx.MockTransport: requests sent, answers parsed, errors classified."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from service.evolution.client import USER_AGENT, EvolutionClient
from service.evolution.errors import (
    EvolutionError,
    EvolutionInstanceNotFound,
    EvolutionInstanceUnavailable,
    EvolutionInvalidRecipient,
    EvolutionRejected,
    EvolutionServerError,
    EvolutionTimeout,
    EvolutionTransportError,
    EvolutionUnauthorized,
    EvolutionUnexpectedResponse,
)
from service.evolution.schemas import SentMessage
from service.settings import EvolutionSettings

NUMBER = "5511987650000"
SETTINGS = EvolutionSettings(
    base_url="http://evolution.test/", api_key="evo-key", instance="zapq", typing_delay_ms=1500
)
V2_BODY = {
    "key": {
        "remoteJid": "5516997453521@s.whatsapp.net",
        "fromMe": True,
        "id": "3EB0EFD331EA140F004CA75141E8169B9EED7629",
    },
    "pushName": "Você",
    "status": "PENDING",
    "message": {"conversation": "oi teste"},
    "messageType": "conversation",
    "messageTimestamp": 1760859935,
    "instanceId": "c9482c80-d4f3-4582-a484-1b5af43db273",
    "source": "unknown",
}
Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, body: Any = None, content: bytes | None = None) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content)
        return httpx.Response(status, content=orjson.dumps(body))

    return handle


def envelope(status: int, error: str, message: Any) -> dict[str, Any]:
    return {"status": status, "error": error, "response": {"message": message}}


async def send(handler: Handler, **kwargs: Any) -> SentMessage:
    async with EvolutionClient(SETTINGS, transport=httpx.MockTransport(handler)) as client:
        return await client.send_text(NUMBER, "oi teste", **kwargs)


async def test_send_text_request() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=V2_BODY)

    await send(handle, delay_ms=1200, link_preview=False)
    await send(handle)
    request = seen[0]
    assert (request.method, str(request.url)) == (
        "POST",
        "http://evolution.test/message/sendText/zapq",
    )
    assert request.headers["apikey"] == "evo-key"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == {
        "number": NUMBER,
        "text": "oi teste",
        "delay": 1200,
        "linkPreview": False,
    }
    assert orjson.loads(seen[1].content) == {"number": NUMBER, "text": "oi teste"}
    # The read budget covers the typing delay Evolution holds the response for.
    timeout = request.extensions["timeout"]
    assert timeout["read"] == SETTINGS.read_timeout_seconds + 1.5
    assert timeout["connect"] == SETTINGS.connect_timeout_seconds
    assert timeout["write"] and timeout["pool"]


async def test_v2_answer() -> None:
    sent = await send(answer(201, V2_BODY))
    assert sent == SentMessage(
        provider_id="3EB0EFD331EA140F004CA75141E8169B9EED7629",
        remote_jid="5516997453521@s.whatsapp.net",
        status="PENDING",
        timestamp=1760859935,
    )


async def test_v1_answer_with_a_string_timestamp() -> None:
    v1 = {
        "key": {"remoteJid": "5511987650000@s.whatsapp.net", "fromMe": True, "id": "BAE5F0A1"},
        "message": {"extendedTextMessage": {"text": "oi"}},
        "messageTimestamp": "1717689097",
        "status": "PENDING",
    }
    sent = await send(answer(201, v1))
    assert (sent.provider_id, sent.timestamp) == ("BAE5F0A1", 1717689097)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"key": {"id": "X"}}, ("", "PENDING", 0)),
        (
            {"key": {"id": "X"}, "status": "SERVER_ACK", "messageTimestamp": 5.0},
            ("", "SERVER_ACK", 5),
        ),
        ({"key": {"id": "X", "remoteJid": 5}, "messageTimestamp": "soon"}, ("", "PENDING", 0)),
    ],
)
async def test_missing_or_odd_fields_are_tolerated(
    body: dict[str, Any], expected: tuple[str, str, int]
) -> None:
    sent = await send(answer(201, body))
    assert (sent.remote_jid, sent.status, sent.timestamp) == expected


@pytest.mark.parametrize(
    ("status", "body", "content"),
    [
        (201, {"key": {}}, None),
        (201, {"key": {"id": ""}}, None),
        (201, [], None),
        (201, None, b"<html>ok</html>"),
        (201, None, b""),
    ],
)
async def test_201_without_a_key_id_is_unexpected(
    status: int, body: Any, content: bytes | None
) -> None:
    with pytest.raises(EvolutionUnexpectedResponse) as caught:
        await send(answer(status, body, content))
    assert caught.value.status_code == 201


CASES: list[tuple[int, Any, type[EvolutionError]]] = [
    (400, envelope(400, "Bad Request", ["Error: Connection Closed"]), EvolutionInstanceUnavailable),
    (400, envelope(400, "Bad Request", ["Text is required"]), EvolutionRejected),
    (400, envelope(400, "Bad Request", ["Invalid format"]), EvolutionRejected),
    (
        400,
        envelope(400, "Internal Server Error", "Unexpected end of JSON input"),
        EvolutionRejected,
    ),
    (400, {"status": 400, "error": "Bad Request", "message": ["x"]}, EvolutionRejected),
    (400, {}, EvolutionRejected),
    (401, envelope(401, "Unauthorized", "Unauthorized"), EvolutionUnauthorized),
    (
        404,
        envelope(404, "Not Found", ['The "zapq" instance does not exist']),
        EvolutionInstanceNotFound,
    ),
    (500, envelope(500, "Internal Server Error", "Cannot read properties"), EvolutionServerError),
    (502, None, EvolutionServerError),
    (503, None, EvolutionServerError),
    (200, V2_BODY, EvolutionUnexpectedResponse),
    (403, envelope(403, "Forbidden", ["x"]), EvolutionUnexpectedResponse),
    (429, None, EvolutionUnexpectedResponse),
    (302, None, EvolutionUnexpectedResponse),
]


@pytest.mark.parametrize(("status", "body", "error"), CASES)
async def test_classification(status: int, body: Any, error: type[EvolutionError]) -> None:
    with pytest.raises(EvolutionError) as caught:
        await send(answer(status, body, b"<html>bad gateway</html>" if body is None else None))
    assert type(caught.value) is error
    assert caught.value.status_code == status
    assert caught.value.message.startswith(f"HTTP {status}")


async def test_connection_closed_keeps_its_text() -> None:
    with pytest.raises(EvolutionInstanceUnavailable) as caught:
        await send(answer(400, envelope(400, "Bad Request", ["Error: Connection Closed"])))
    assert "Connection Closed" in caught.value.message
    assert caught.value.retryable


async def test_not_on_whatsapp_is_final_and_never_carries_the_number() -> None:
    lookup = {"jid": f"{NUMBER}@s.whatsapp.net", "exists": False, "number": NUMBER}
    with pytest.raises(EvolutionInvalidRecipient) as caught:
        await send(answer(400, envelope(400, "Bad Request", [lookup])))
    assert not caught.value.retryable
    assert caught.value.status_code == 400
    assert NUMBER[-8:] not in str(caught.value)


async def test_phone_numbers_in_error_texts_are_masked() -> None:
    body = envelope(400, "Bad Request", [f"Error: {NUMBER}@s.whatsapp.net not reachable"])
    with pytest.raises(EvolutionInstanceUnavailable) as caught:
        await send(answer(400, body))
    assert NUMBER[:8] not in caught.value.message
    assert "0000@s.whatsapp.net" in caught.value.message


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (httpx.ConnectError("refused"), EvolutionTransportError),
        (httpx.RemoteProtocolError("server disconnected"), EvolutionTransportError),
        (httpx.ReadError("reset"), EvolutionTransportError),
        (httpx.ReadTimeout("slow"), EvolutionTimeout),
        (httpx.ConnectTimeout("slow"), EvolutionTimeout),
        (httpx.PoolTimeout("busy"), EvolutionTimeout),
        # httpx-aiohttp reports aiohttp's connection errors as ConnectTimeout: not timeouts.
        (
            _caused(httpx.ConnectTimeout("x"), aiohttp.ServerDisconnectedError()),
            EvolutionTransportError,
        ),
        (_caused(httpx.ReadTimeout("x"), aiohttp.SocketTimeoutError()), EvolutionTimeout),
    ],
)
async def test_transport_errors_are_wrapped(raised: Exception, error: type[EvolutionError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise raised

    for call in (send(fail), _numbers(fail)):
        with pytest.raises(EvolutionError) as caught:
            await call
        assert type(caught.value) is error
        assert caught.value.__cause__ is raised
        assert caught.value.status_code is None


async def _numbers(handler: Handler) -> list[dict[str, Any]]:
    async with EvolutionClient(SETTINGS, transport=httpx.MockTransport(handler)) as client:
        return await client.whatsapp_numbers(["5511987650000"])
