"""What a request meets before its body is read, and what every response carries."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from service.logging import JsonFormatter
from tests.security.conftest import KEYS, VALID, auth


async def _asgi(app: FastAPI, method: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Call the app with a body stream that counts how often it is read: (status, reads)."""
    reads = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": reads < 4096}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *raw],
        "client": ("127.0.0.1", 1),
        "server": ("zapq.test", 80),
        "scheme": "http",
    }
    await app(scope, receive, send)
    return status, reads


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer " + "z" * 40}, auth("reader")],
    ids=["no key", "unknown key", "key without the scope"],
)
async def test_body_is_not_read_before_the_key_is_checked(
    app: FastAPI, headers: dict[str, str]
) -> None:
    status, reads = await _asgi(app, "POST", "/v1/messages/batch", headers)
    assert status in (401, 403)
    assert reads == 0


async def test_a_good_key_gets_its_body_read(app: FastAPI) -> None:
    status, reads = await _asgi(app, "POST", "/v1/messages/batch", auth("acme"))
    assert status == 400  # read in full: 4 MiB of "x" is not JSON
    assert reads == 4096


async def test_malformed_json_gets_the_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages",
        content=b'{"to": "+5511987654321", "text": ',
        headers={**auth("acme"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert "not valid JSON" in response.json()["detail"]


async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages", content=b"to=1", headers={**auth("acme"), "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_options_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.options("/v1/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json()["error"] == "method_not_allowed"
    unknown = await client.get("/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


class _Lines(logging.Handler):
    """Formats each record as it is emitted (inside the request, where its id is set)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_request_id_echoed_generated_and_logged(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz", headers={"X-Request-ID": "bad id " * 30})
    assert len(made.headers["x-request-id"]) == 32 and made.headers["x-request-id"] != "abc-123"
    handler = _Lines()
    audit = logging.getLogger("zapq.audit")
    audit.addHandler(handler)
    audit.setLevel(logging.INFO)
    try:
        await client.delete("/v1/senders/none", headers={**auth("ops"), "X-Request-ID": "r-42"})
    finally:
        audit.removeHandler(handler)
    [line] = [orjson.loads(line) for line in handler.lines]
    assert line["request_id"] == "r-42" and line["key"] == "ops" and line["status"] == 404
    assert line["action"] == "deleteSender"


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/queue", headers=auth("ops"))
    for name, value in {
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
    }.items():
        assert response.headers[name] == value
    assert "default-src 'none'" in response.headers["content-security-policy"]
    docs = await client.get("/docs")
    assert "content-security-policy" not in docs.headers  # the try-it page loads its script


async def test_body_budget_holds_a_request_until_room(app: FastAPI) -> None:
    from service.api.middleware import ByteBudget

    budget = ByteBudget(10)
    assert await budget.acquire(8, 1)
    waiting = asyncio.ensure_future(budget.acquire(8, 5))
    await asyncio.sleep(0)
    assert not waiting.done()
    await budget.release(8)
    assert await waiting
    assert not await budget.acquire(8, 0.01)  # no room: refused after its wait


async def test_secrets_are_never_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for name in KEYS:
            await client.post("/v1/messages", json=VALID, headers=auth(name))
            await client.delete("/v1/senders/x", headers=auth(name))
        await client.get("/v1/queue", headers={"Authorization": "Bearer wrong-" + "k" * 30})
    text = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret, _ in KEYS.values():
        assert secret not in text
    assert "k" * 30 not in text
    assert "ops" in text  # the audit line names the key
