"""RouteGuard: what every request meets before its body is read.

FastAPI reads and parses a JSON body before it runs any dependency, so a key checked in a
dependency comes too late: three keyless 4 MiB batches took a pod from 58 to 284 MB. The guard
matches the route itself, and for a route that needs a scope (auth.py's dependencies) it checks,
in order: the key (401), its scope (403), its request rate (429 + Retry-After), then the body's
content type (415). Only then does the body get read (middleware.BodySizeLimit: 413, and a byte
budget per process). It also answers 405 with an ``Allow`` header naming every method of the path
(Starlette names only the first route's).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.auth import SCOPE_OF, evolution_caller
from service.api.middleware import REDIS_DOWN, send_error
from service.auth.keys import KeyRing, Principal
from service.errors import RateLimited
from service.limits.quotas import Quotas
from service.redis import REDIS_ERRORS
from service.settings import Scope as KeyScope

log = logging.getLogger("zapq.api")


def _dependencies(route: BaseRoute) -> list[object]:
    """Every dependency a route's handler asks for, depth first."""
    if not isinstance(route, APIRoute):
        return []
    found: list[object] = []
    todo = list(route.dependant.dependencies)
    while todo:
        dependant = todo.pop(0)
        found.append(dependant.call)
        todo[:0] = dependant.dependencies
    return found


def required_scope(route: BaseRoute) -> KeyScope | None:
    """The scope a route's dependencies ask for (the first found, depth first), if any."""
    return next((SCOPE_OF[call] for call in _dependencies(route) if call in SCOPE_OF), None)


def evolution_only(route: BaseRoute) -> bool:
    """A route for Evolution's webhooks: the webhook token instead of an API key."""
    return evolution_caller in _dependencies(route)


def _params(route: RouteContext) -> int:
    return (route.path or "").count("{")


def _json_content(headers: dict[bytes, bytes]) -> bool:
    media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    return b"transfer-encoding" in headers or (length is not None and length.strip() != b"0")


class RouteGuard:
    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._scopes: dict[int, KeyScope | None] = {}
        self._evolution: dict[int, bool] = {}
        self._routes: list[RouteContext] | None = None
        #: (method, path) -> route, for the routes without path parameters: most requests
        #: (POST /v1/messages) are matched by one lookup instead of every route's regex.
        self._literal: dict[tuple[str, str], BaseRoute] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, allowed = self._match(scope)
        if route is None and allowed:
            allow = ", ".join(sorted(allowed))
            detail = f"{scope['method']} is not allowed here; allowed: {allow}"
            await send_error(send, 405, "method_not_allowed", detail, {"Allow": allow})
            return
        refusal = await self._refusal(route, scope) if route is not None else None
        if refusal is not None:
            await send_error(send, *refusal)
            return
        await self.app(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[BaseRoute | None, set[str]]:
        """The route of a request (its declaration: dependencies, body), and when none is, the
        methods the path has."""
        if self._routes is None:
            self._routes = list(iter_route_contexts(self.api.router.routes))
            self._literal = {
                (method, route.path): route.original_route
                for route in self._routes
                if route.path and _params(route) == 0
                for method in route.methods or ()
            }
        literal = self._literal.get((scope["method"], scope["path"]))
        if literal is not None:
            return literal, set()
        full: RouteContext | None = None
        partial: list[RouteContext] = []
        for route in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and full is None:
                full = route
            elif match is Match.PARTIAL:
                partial.append(route)
        # /v1/messages/batch also fits /v1/messages/{message_id}: the path is the literal one's,
        # so GET /v1/messages/batch is a 405, not a bad message id.
        fewest = min((_params(route) for route in partial), default=99)
        if full is not None and _params(full) <= fewest:
            return full.original_route, set()
        allowed = {m for r in partial if _params(r) == fewest for m in r.methods or ()}
        return None, allowed

    def _scope_of(self, route: BaseRoute) -> KeyScope | None:
        if id(route) not in self._scopes:
            self._scopes[id(route)] = required_scope(route)
        return self._scopes[id(route)]

    def _for_evolution(self, route: BaseRoute) -> bool:
        if id(route) not in self._evolution:
            self._evolution[id(route)] = evolution_only(route)
        return self._evolution[id(route)]

    async def _refusal(self, route: BaseRoute, scope: Scope) -> tuple[Any, ...] | None:
        """(status, code, detail, headers) of a refused request, or None."""
        needed = self._scope_of(route)
        headers = dict(scope["headers"])
        if self._for_evolution(route):
            if not self.api.state.webhook_auth.allows(
                headers.get(b"authorization", b"").decode("latin-1")
            ):
                detail = "Authorization must carry the webhook token or a JWT signed with it"
                return 401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"}
            scope.setdefault("state", {})["evolution_caller"] = True
        elif needed is not None:
            principal, refusal = self._identify(headers, needed)
            if refusal is not None:
                return refusal
            assert principal is not None
            scope.setdefault("state", {}).update(principal=principal, required_scope=needed)
            refusal = await self._rate(principal)
            if refusal is not None:
                return refusal
        body = isinstance(route, APIRoute) and route.body_field is not None
        if body and _has_body(headers) and not _json_content(headers):
            return 415, "unsupported_media_type", "the body must be application/json", {}
        return None

    def _identify(
        self, headers: dict[bytes, bytes], needed: KeyScope
    ) -> tuple[Principal | None, tuple[Any, ...] | None]:
        challenge = {"WWW-Authenticate": "Bearer"}
        raw = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, secret = raw.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            detail = "missing Authorization: Bearer <api key>"
            return None, (401, "unauthorized", detail, challenge)
        keyring: KeyRing = self.api.state.keyring
        principal = keyring.identify(secret.strip())
        if principal is None:
            return None, (401, "unauthorized", "unknown API key", challenge)
        if not principal.allows(needed):
            return None, (403, "forbidden", f"this key lacks the {needed} scope", {})
        return principal, None

    async def _rate(self, principal: Principal) -> tuple[Any, ...] | None:
        quotas: Quotas = self.api.state.quotas
        try:
            await quotas.request(principal)
        except RateLimited as exc:
            retry = {"Retry-After": str(exc.retry_after_seconds)}
            return 429, exc.code, exc.detail, retry
        except REDIS_ERRORS as exc:
            log.error("redis unavailable", extra={"error": repr(exc)})
            return 503, "unavailable", REDIS_DOWN, {"Retry-After": "5"}
        return None
