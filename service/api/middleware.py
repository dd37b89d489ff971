"""Pure ASGI middleware: request ids, security headers and audit lines; the body size limit and
byte budget; per-route metrics. (The key check before the body: guard.py.)"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import metrics
from service.api.contract import operation_id
from service.logging import REQUEST_ID, mask_phone

audit_log = logging.getLogger("zapq.audit")
# A client's X-Request-ID is kept when it is a plain token: it goes into every log line.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    # Responses carry phone numbers and message data: no cache on the way may keep them.
    (b"cache-control", b"no-store"),
    (b"strict-transport-security", b"max-age=31536000"),
]
# The try-it page (/docs) loads its script and styles from a CDN; nothing else needs any.
_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOC_PATHS = ("/docs", "/redoc")
REDIS_DOWN = "the queue (Redis) is unreachable; nothing was enqueued, retry later"


async def send_error(
    send: Send, status: int, code: str, detail: Any, headers: Mapping[str, str] | None = None
) -> None:
    """Answer ``{"error": code, "detail": detail}`` from middleware (before any route runs)."""
    body = orjson.dumps({"error": code, "detail": detail})
    raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class ResponseHeaders:
    """X-Request-ID (the client's, or a new one) on the response and every log line; security
    headers on every response; an audit line for each admin action (who, what, outcome)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # 128 random bits as 32 hex digits (a UUID's object costs more than the id itself).
        request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(16)
        extra = [(b"x-request-id", request_id.encode()), *_SECURITY_HEADERS]
        if not scope["path"].startswith(_DOC_PATHS):
            extra.append(_CSP)
        status = 500

        async def stamp(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, stamp)
        finally:
            _audit(scope, status)
            REQUEST_ID.reset(token)


def _audit(scope: Scope, status: int) -> None:
    """One ``zapq.audit`` line for an admin action: a change through an admin route, or what a
    route marked (``state["audit"]``: an admin cancelling another tenant's message)."""
    state = scope.get("state") or {}
    principal = state.get("principal")
    admin_change = state.get("required_scope") == "admin" and scope["method"] not in _SAFE_METHODS
    if principal is None or not (admin_change or state.get("audit")):
        return
    route = scope.get("route")
    params = {
        name: mask_phone(value) if name == "phone" else value
        for name, value in (scope.get("path_params") or {}).items()
    }
    audit_log.info(
        "audit",
        extra={
            "audit": True,
            "key": principal.name,
            "action": operation_id(route) if isinstance(route, APIRoute) else scope["path"],
            "method": scope["method"],
            "route": getattr(route, "path", None),
            "params": params,
            "status": status,
            "reason": state.get("audit") or "admin route",
        },
    )


class ByteBudget:
    """At most ``capacity`` bytes of request bodies held at once; the rest wait their turn.

    A request that fits takes its bytes at once: no lock and no timer task (asyncio.wait_for
    makes one), which were most of this class's cost per request while nothing waits."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiting = 0
        self._changed = asyncio.Condition()

    async def acquire(self, size: int, timeout_seconds: float) -> bool:
        size = min(size, self.capacity)
        if self.used + size <= self.capacity:  # checked and taken without a yield between
            self.used += size
            return True
        self._waiting += 1
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.used + size <= self.capacity),
                    timeout_seconds,
                )
                self.used += size
                return True
        except TimeoutError:
            return False
        finally:
            self._waiting -= 1

    async def release(self, size: int) -> None:
        self.used -= min(size, self.capacity)
        if self._waiting:
            async with self._changed:
                self._changed.notify_all()


# How long a request waits for room in the byte budget before a 503: a full batch is handled in
# well under a second, so 10 s means the process is overloaded, and the client should back off.
_BUDGET_WAIT_SECONDS = 10.0


class BodySizeLimit:
    """413 for bodies over ``max_bytes``, from Content-Length up front or while streaming; at most
    ``budget_bytes`` of bodies read and processed at once in this process."""

    def __init__(self, app: ASGIApp, max_bytes: int, budget_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget = ByteBudget(budget_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        if not length.isdigit() and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        size = int(length) if length.isdigit() else self.max_bytes
        if not await self.budget.acquire(size, _BUDGET_WAIT_SECONDS):
            detail = "too many large requests in progress; retry later"
            await send_error(send, 503, "overloaded", detail, {"Retry-After": "5"})
            return
        try:
            await self._buffered(scope, receive, send)
        finally:
            await self.budget.release(size)

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Read the body here (FastAPI buffers it anyway) so an oversized stream is refused with a
        # 413 before any handler sees it; a handler would turn a mid-stream error into a 400.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, max_bytes: int) -> None:
    detail = f"request body is larger than {max_bytes} bytes"
    await send_error(send, 413, "payload_too_large", detail)


class RequestMetrics:
    """zapq_http_requests_total and _duration_seconds by route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tap(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tap)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            count, duration = metrics.http_series(scope["method"], template, status)
            count.inc()
            duration.observe(time.perf_counter() - started)
