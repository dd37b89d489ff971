"""FastAPI dependencies: one-line Annotated accessors over what the lifespan built, and the
caller's key (auth.py). Async, so FastAPI runs none of them in its thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from service.api.auth import AdminKey, ReaderKey, SenderKey
from service.limits.quotas import Quotas
from service.queue.backpressure import Backpressure
from service.queue.models import MESSAGE_ID_PATTERN
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import Settings

__all__ = [
    "AdminKey",
    "QueueDep",
    "QuotasDep",
    "ReaderKey",
    "SenderKey",
    "SendersDep",
    "SettingsDep",
]


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_queue(request: Request) -> MessageQueue:
    queue: MessageQueue = request.app.state.queue
    return queue


async def get_backpressure(request: Request) -> Backpressure:
    backpressure: Backpressure = request.app.state.backpressure
    return backpressure


async def get_senders(request: Request) -> SenderRegistry:
    registry: SenderRegistry = request.app.state.senders
    return registry


async def get_quotas(request: Request) -> Quotas:
    quotas: Quotas = request.app.state.quotas
    return quotas


SettingsDep = Annotated[Settings, Depends(get_settings)]
QueueDep = Annotated[MessageQueue, Depends(get_queue)]
SendersDep = Annotated[SenderRegistry, Depends(get_senders)]
QuotasDep = Annotated[Quotas, Depends(get_quotas)]
BackpressureDep = Annotated[Backpressure, Depends(get_backpressure)]
#: A message id in a path: a ULID (26 characters of Crockford base32), 422 otherwise.
MessageIdPath = Annotated[
    str, Path(pattern=MESSAGE_ID_PATTERN, description="The message's id (a ULID).")
]
