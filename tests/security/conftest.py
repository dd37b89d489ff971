"""Keys with names and scopes (ZAPQ_API__KEYS, by hash), the app, and clients per key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from loadtest.procs import zapq_env
from service.api.app import create_app
from service.auth.keys import hash_secret
from service.devstack import free_port, stop_process, wait_for_port
from service.settings import Settings

# name -> (secret, scopes). Secrets are 128+ bits, as `zapq api` demands.
KEYS: dict[str, tuple[str, list[str]]] = {
    "acme": ("acme-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e", ["messages:send", "messages:read"]),
    "globex": ("globex-2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e1b", ["messages:send", "messages:read"]),
    "sender": ("sender-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b", ["messages:send"]),
    "reader": ("reader-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d", ["messages:read"]),
    "ops": ("ops-0f1e2d3c4b5a69788796a5b4c3d2e1f0a", ["admin"]),
}
PHONE = "5511987654321"
VALID = {"to": "+55 11 98765-4321", "text": "Sua fatura vence amanhã"}


def key_entries(**quotas: Any) -> list[dict[str, Any]]:
    """ZAPQ_API__KEYS for KEYS; ``quotas`` apply to every key."""
    return [
        {"name": name, "sha256": hash_secret(secret), "scopes": scopes, **quotas}
        for name, (secret, scopes) in KEYS.items()
    ]


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    api = settings.api.model_copy(update={"keys": Settings(api={"keys": key_entries()}).api.keys})
    return settings.model_copy(update={"api": api, "api_keys": []})


async def _app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def app(keyed: Settings, redis: Redis) -> AsyncIterator[FastAPI]:
    async for application in _app(keyed):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://zapq.test") as c:
        yield c


@contextmanager
def api_process(redis_url: str, log: Path, **env: str) -> Iterator[tuple[str, int]]:
    """A real `zapq api` on a loopback port; yields its base URL and PID."""
    port = free_port()
    environ = zapq_env(redis_url, "http://127.0.0.1:9", ZAPQ_LOG_LEVEL="INFO", **env)
    args = [sys.executable, "-m", "service", "api", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=environ, stdout=out, stderr=out)
    try:
        wait_for_port(port, timeout_seconds=30, proc=proc)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop_process(proc, timeout_seconds=20)
