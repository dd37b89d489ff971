"""FastAPI dependencies: one-line Annotated accessors over what the lifespan built."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Path, Request

from service.errors import Unauthorized
from service.queue.backpressure import Backpressure
from service.queue.models import MESSAGE_ID_PATTERN
from service.queue.store import MessageQueue, api_key_id
from service.senders.registry import SenderRegistry
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_queue(request: Request) -> MessageQueue:
    queue: MessageQueue = request.app.state.queue
    return queue


def get_backpressure(request: Request) -> Backpressure:
    backpressure: Backpressure = request.app.state.backpressure
    return backpressure


def get_senders(request: Request) -> SenderRegistry:
    registry: SenderRegistry = request.app.state.senders
    return registry


def authenticate(
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """Check ``Authorization: Bearer <key>``; returns the key's id (its idempotency namespace)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("missing Authorization: Bearer <api key>")
    # Compare with every configured key in constant time, so timing reveals neither key nor
    # position.
    matches = [
        hmac.compare_digest(key.encode(), known.get_secret_value().encode())
        for known in settings.api_keys
    ]
    if not any(matches):
        raise Unauthorized("unknown API key")
    return api_key_id(key)


SettingsDep = Annotated[Settings, Depends(get_settings)]
QueueDep = Annotated[MessageQueue, Depends(get_queue)]
SendersDep = Annotated[SenderRegistry, Depends(get_senders)]
KeyIdDep = Annotated[str, Depends(authenticate)]
BackpressureDep = Annotated[Backpressure, Depends(get_backpressure)]
#: A message id in a path: a ULID (26 characters of Crockford base32), 422 otherwise.
MessageIdPath = Annotated[
    str, Path(pattern=MESSAGE_ID_PATTERN, description="The message's id (a ULID).")
]
