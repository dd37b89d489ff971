"""The API with Redis unreachable: a clear 503, readiness fails, liveness holds."""

from __future__ import annotations

import httpx

from service.api.app import create_app
from service.devstack import free_port
from service.settings import Settings


async def test_redis_unreachable_is_a_503_not_a_crash(settings: Settings) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(settings.model_copy(update={"redis_url": Settings(redis_url=dead).redis_url}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": "Bearer test-key"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as c:
            response = await c.post("/v1/messages", json={"to": "+5511987654321", "text": "oi"})
            assert response.status_code == 503
            assert response.json()["error"] == "unavailable"
            assert "nothing was enqueued" in response.json()["detail"]
            assert response.headers["retry-after"] == "5"
            assert (await c.get("/readyz")).status_code == 503
            assert (await c.get("/healthz")).status_code == 200
