"""/readyz of the API and of a worker with Redis unreachable: a bare status for whoever asks, the
details in the log (issue #15: the answer showed Redis's connection details). Both probes live
here, side by side, as they must answer alike."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web
from redis.asyncio import Redis

from service.api.app import create_app
from service.devstack import free_port
from service.settings import Settings
from service.worker.health import create_health_app, start_health_server

PASSWORD = "probe-pw-3e9b"


@pytest.fixture
def dead_redis_url() -> str:
    """A Redis URL with a password and a port nothing listens on."""
    return f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"


def assert_logged_not_shown(
    response: httpx.Response, caplog: pytest.LogCaptureFixture, url: str
) -> None:
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    assert port not in response.text and PASSWORD not in response.text
    (record,) = [r for r in caplog.records if r.getMessage() == "not ready: redis"]
    error: str = record.__dict__["error"]
    assert error.startswith("ConnectionError") and port in error
    assert PASSWORD not in error


async def test_api_readyz_shows_no_redis_details(
    settings: Settings, dead_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = settings.model_copy(update={"redis_url": Settings(redis_url=dead_redis_url).redis_url})
    app = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with caplog.at_level(logging.WARNING, logger="zapq.api"):
                response = await client.get("/readyz")
    assert_logged_not_shown(response, caplog, dead_redis_url)


@pytest.fixture
async def worker_probe() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Starts a worker's health server on a free port, pinging the Redis at a given URL."""
    clients: list[Redis] = []
    runners: list[web.AppRunner] = []

    async def serve(url: str) -> str:
        client = Redis.from_url(url)
        clients.append(client)
        port = free_port()
        app = create_health_app(client, time.monotonic, 30)
        runners.append(await start_health_server(app, "127.0.0.1", port))
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()
    for client in clients:
        await client.aclose()


async def test_worker_readyz_shows_no_redis_details(
    worker_probe: Callable[[str], Awaitable[str]],
    dead_redis_url: str,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead, alive = await worker_probe(dead_redis_url), await worker_probe(redis_url)
    async with httpx.AsyncClient(timeout=30) as client:
        with caplog.at_level(logging.WARNING, logger="zapq.worker"):
            response = await client.get(f"{dead}/readyz")
        ready = await client.get(f"{alive}/readyz")
    assert_logged_not_shown(response, caplog, dead_redis_url)
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}
