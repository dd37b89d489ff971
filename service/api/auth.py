"""Scopes as dependencies: one per scope, so a route says what it needs in its signature.

``RouteGuard`` (guard.py) reads these dependencies off each route and checks the key, its scope
and its request rate *before the body is read*; the dependency then hands the handler the
``Principal`` the guard found. The ``Security`` parameter puts the bearer scheme and the scope on
the operation in the OpenAPI document. A route with none of them is public (health, metrics) or
authenticates itself (webhooks).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth.keys import Principal
from service.errors import Forbidden, Unauthorized
from service.settings import Scope

BEARER = HTTPBearer(
    scheme_name="apiKey",
    description="`Authorization: Bearer <key>`; each operation lists the scope it needs.",
    auto_error=False,
)
Credentials = HTTPAuthorizationCredentials | None


def principal_of(request: Request, scope: Scope) -> Principal:
    """The caller the guard identified, if it holds ``scope``."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthorized("missing Authorization: Bearer <api key>")
    if not principal.allows(scope):
        raise Forbidden(f"this key lacks the {scope} scope")
    return principal


async def sender_key(
    request: Request, _: Annotated[Credentials, Security(BEARER, scopes=["messages:send"])]
) -> Principal:
    return principal_of(request, "messages:send")


async def reader_key(
    request: Request, _: Annotated[Credentials, Security(BEARER, scopes=["messages:read"])]
) -> Principal:
    return principal_of(request, "messages:read")


async def admin_key(
    request: Request, _: Annotated[Credentials, Security(BEARER, scopes=["admin"])]
) -> Principal:
    return principal_of(request, "admin")


WEBHOOK_BEARER = HTTPBearer(
    scheme_name="evolutionWebhookToken",
    description="`Authorization: Bearer <ZAPQ_EVOLUTION__WEBHOOK_TOKEN>`, or an HS256 JWT signed "
    "with it (Evolution's jwt_key header).",
    auto_error=False,
)


async def evolution_caller(
    request: Request, _: Annotated[Credentials, Security(WEBHOOK_BEARER)]
) -> None:
    """Evolution, as the guard found it (the webhook token, checked before the body is read)."""
    if not request.scope.get("state", {}).get("evolution_caller"):
        raise Unauthorized("Authorization must carry the webhook token or a JWT signed with it")


#: The scope each dependency stands for: what the guard checks before reading a body.
SCOPE_OF: dict[object, Scope] = {
    sender_key: "messages:send",
    reader_key: "messages:read",
    admin_key: "admin",
}

SenderKey = Annotated[Principal, Depends(sender_key)]
ReaderKey = Annotated[Principal, Depends(reader_key)]
AdminKey = Annotated[Principal, Depends(admin_key)]
EvolutionCaller = Annotated[None, Depends(evolution_caller)]
