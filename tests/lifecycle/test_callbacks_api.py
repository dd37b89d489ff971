"""The API side of client callbacks: callback_url on messages (checked, resolved, shown), the
callbacks' dead letters and their replay over HTTP."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

from service.auth.keys import key_id as api_key_id
from service.queue.callbacks import Attempt, CallbackQueue
from service.queue.receipts import Lifecycle
from service.queue.store import MessageQueue
from tests.lifecycle.conftest import HOOK
from tests.lifecycle.test_docs import DOC

KEY = {"Authorization": "Bearer test-key"}


async def test_callback_url_is_taken_resolved_and_shown(client: httpx.AsyncClient) -> None:
    own = await client.post(
        "/v1/messages",
        json={"to": "11987654321", "text": "oi", "callback_url": "https://hooks.example/a"},
        headers=KEY,
    )
    default = await client.post(
        "/v1/messages", json={"to": "11987654321", "text": "b"}, headers=KEY
    )
    assert own.json()["callback_url"] == "https://hooks.example/a"
    assert default.json()["callback_url"] == HOOK  # the default endpoint (hook_settings)
    got = await client.get(f"/v1/messages/{own.json()['id']}", headers=KEY)
    assert got.json()["callback_url"] == "https://hooks.example/a"
    assert got.json()["delivered_at"] is None and got.json()["read_at"] is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8080/h", "not public"),
        ("http://[::1]/h", "not public"),
        ("http://169.254.169.254/latest", "not public"),
        ("ftp://hooks.example/h", "String should match pattern"),
    ],
)
async def test_a_callback_url_that_cannot_be_called_is_refused(
    client: httpx.AsyncClient, url: str, problem: str
) -> None:
    response = await client.post(
        "/v1/messages", json={"to": "11987654321", "text": "oi", "callback_url": url}, headers=KEY
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "callback_url" and problem in error["message"]


async def test_dead_letters_are_listed_and_replayed(
    client: httpx.AsyncClient, queue: MessageQueue
) -> None:
    callbacks, lifecycle = CallbackQueue(queue), Lifecycle(queue)
    for n in range(3):
        await lifecycle.inbound(f"551198765000{n}", url=HOOK, forward={"text": "oi"})
    for event in (await callbacks.claim(10, 30_000, 10)).events:
        await callbacks.done(event, Attempt.DEAD, error="HTTP 410")
    listed = (await client.get("/v1/callbacks/dead-letters?limit=2", headers=KEY)).json()
    assert listed["total"] == 3 and len(listed["items"]) == 2
    first = listed["items"][0]
    assert (first["type"], first["url"], first["attempts"], first["last_error"]) == (
        "inbound.message",
        HOOK,
        1,
        "HTTP 410",
    )
    one = await client.post(f"/v1/callbacks/dead-letters/{first['id']}/replay", headers=KEY)
    assert one.status_code == 200 and one.json()["attempts"] == 0 and one.json()["dead_at"] is None
    again = await client.post(f"/v1/callbacks/dead-letters/{first['id']}/replay", headers=KEY)
    missing = await client.post("/v1/callbacks/dead-letters/nope/replay", headers=KEY)
    assert (again.status_code, missing.status_code) == (409, 404)
    rest = await client.post("/v1/callbacks/dead-letters/replay", headers=KEY)
    assert rest.json() == {"replayed": 2}
    assert (await client.get("/v1/callbacks/dead-letters", headers=KEY)).json()["total"] == 0
    assert len((await callbacks.claim(10, 30_000, 10)).events) == 3


def test_key_ids_are_what_the_docs_compute() -> None:
    """docs/callbacks.md's recipe for the id ZAPQ_CALLBACKS__KEY_URLS takes, run by the shell."""
    recipe = 'printf %s "$API_KEY" | sha256sum | cut -c1-16'
    assert recipe in DOC.read_text()
    env = {"API_KEY": "test-key", "PATH": os.environ["PATH"]}
    done = subprocess.run(["sh", "-c", recipe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == api_key_id("test-key")
