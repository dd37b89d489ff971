"""Contract tests of the simulator: raw HTTP against the real process (the `sim` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sim.receiver import Receiver
from tests.sim_fixture import SimControl

GLOBAL_KEY = "evo-key"


class Evolution:
    """Raw calls to the simulator's Evolution routes, for asserting on exact bodies."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def send(
        self, body: Any, instance: str = "zapq", key: str | None = GLOBAL_KEY, **kwargs: Any
    ) -> httpx.Response:
        headers = {"apikey": key} if key is not None else {}
        return self.http.post(f"/message/sendText/{instance}", json=body, headers=headers, **kwargs)

    def call(
        self, method: str, path: str, key: str | None = GLOBAL_KEY, **kwargs: Any
    ) -> httpx.Response:
        headers = {"apikey": key} if key is not None else {}
        return self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def evo(sim: SimControl) -> Iterator[Evolution]:
    with httpx.Client(base_url=sim.url, timeout=10) as http:
        yield Evolution(http)


def envelope(status: int, error: str, message: Any) -> dict[str, Any]:
    return {"status": status, "error": error, "response": {"message": message}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port, stopped after the test."""
    server = Receiver()
    yield server
    server.close()


def set_webhook(evo: Evolution, url: str, instance: str = "zapq", **fields: Any) -> dict[str, Any]:
    """POST /webhook/set with every event unless ``events`` is given; the stored row."""
    webhook = {"enabled": True, "url": url, "events": [], **fields}
    response = evo.call("POST", f"/webhook/set/{instance}", json={"webhook": webhook})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
