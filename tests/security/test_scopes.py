"""Every /v1 route against every kind of key: no key or an unknown one is 401, a key without the
route's scope 403 (before the body is read), the right scope passes. The table must name every
route the app has, so a route added without a scope fails here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from service.api.guard import evolution_only, required_scope
from tests.security.conftest import KEYS, PHONE, VALID, auth

ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
SENDER = {"instance": "zapq", "rate_per_second": 5}
# (method, path template, a request, the scope it needs)
ROUTES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/v1/messages", {"json": VALID}, "messages:send"),
    ("POST", "/v1/messages/batch", {"json": {"messages": [VALID]}}, "messages:send"),
    ("GET", "/v1/messages/{message_id}", {}, "messages:read"),
    ("DELETE", "/v1/messages/{message_id}", {}, "messages:send"),
    ("GET", "/v1/queue", {}, "admin"),
    ("GET", "/v1/dead-letters", {}, "admin"),
    ("POST", "/v1/dead-letters/{message_id}/requeue", {}, "admin"),
    ("POST", "/v1/dead-letters/requeue", {"json": {}}, "admin"),
    ("GET", "/v1/senders", {}, "admin"),
    ("GET", "/v1/senders/{name}", {}, "admin"),
    ("PUT", "/v1/senders/{name}", {"json": SENDER}, "admin"),
    ("DELETE", "/v1/senders/{name}", {}, "admin"),
    ("POST", "/v1/senders/{name}/pause", {}, "admin"),
    ("POST", "/v1/senders/{name}/resume", {}, "admin"),
    ("DELETE", "/v1/recipients/{phone}", {}, "admin"),
    ("GET", "/v1/suppressions", {}, "admin"),
    ("GET", "/v1/suppressions/{phone}", {}, "admin"),
    ("PUT", "/v1/suppressions/{phone}", {}, "admin"),
    ("DELETE", "/v1/suppressions/{phone}", {}, "admin"),
    ("GET", "/v1/callbacks/dead-letters", {}, "admin"),
    ("POST", "/v1/callbacks/dead-letters/{event_id}/replay", {}, "admin"),
    ("POST", "/v1/callbacks/dead-letters/replay", {}, "admin"),
]
# Evolution's webhooks carry the webhook token, never an API key: every API key is refused.
WEBHOOKS: list[tuple[str, str]] = [
    ("POST", "/v1/webhooks/evolution"),
    ("POST", "/v1/webhooks/evolution/{event}"),
]
CASES = [
    pytest.param(route, key, id=f"{route[0]} {route[1]} as {key}")
    for route in ROUTES
    for key in [*KEYS, "nobody", "unknown"]
]


def _url(template: str) -> str:
    return template.format(
        message_id=ID, name="zapq", phone=PHONE, event_id=f"{ID}.1", event="messages-update"
    )


def _expected(key: str, scope: str) -> set[int] | None:
    """The status the guard answers, or None when it lets the request through."""
    if key in ("nobody", "unknown"):
        return {401}
    scopes = KEYS[key][1]
    return None if "admin" in scopes or scope in scopes else {403}


@pytest.mark.parametrize(("route", "key"), CASES)
async def test_scope_of_every_route(
    client: httpx.AsyncClient, route: tuple[str, str, dict[str, Any], str], key: str
) -> None:
    method, template, request, scope = route
    special = {"nobody": {}, "unknown": {"Authorization": "Bearer " + "x" * 40}}
    headers = special[key] if key in special else auth(key)
    response = await client.request(method, _url(template), headers=headers, **request)
    expected = _expected(key, scope)
    if expected is None:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code in expected, response.text
        assert response.json()["error"] == ("unauthorized" if 401 in expected else "forbidden")


@pytest.mark.parametrize(("method", "template"), WEBHOOKS)
@pytest.mark.parametrize("key", [*KEYS, "nobody"])
async def test_webhooks_take_no_api_key(
    client: httpx.AsyncClient, method: str, template: str, key: str
) -> None:
    headers = {} if key == "nobody" else auth(key)
    response = await client.request(method, _url(template), headers=headers, json={})
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_the_table_names_every_route(app: FastAPI) -> None:
    declared = {
        (method, context.original_route.path, required_scope(context.original_route))
        for context in iter_route_contexts(app.router.routes)
        for method in (context.methods or ())
        if (context.path or "").startswith("/v1")
    }
    expected = {(method, path, scope) for method, path, _, scope in ROUTES}
    assert declared == expected | {(method, path, None) for method, path in WEBHOOKS}
    routes = [context.original_route for context in iter_route_contexts(app.router.routes)]
    assert {route.path for route in routes if evolution_only(route)} == {p for _, p in WEBHOOKS}
