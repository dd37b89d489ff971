"""The whole lifecycle with real processes: `zapq api` and `zapq worker`, the Evolution simulator
posting receipts (shuffled, duplicated) to the API's by-event webhook paths with a jwt_key, and a
callback receiver on loopback verifying every signature."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from loadtest.procs import AUTH, zapq_env
from service.devstack import free_port, stop_process, wait_for_port
from tests.lifecycle.conftest import TOKEN
from tests.lifecycle.receiver import Receiver
from tests.lifecycle.test_dispatcher import SECRET
from tests.worker.conftest import eventually

pytestmark = pytest.mark.slow

KEY = AUTH
COUNT = 20


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service", *args], env=env, stdout=out, stderr=out
        )


@pytest.fixture
def stack(redis_url: str, sim: Any, tmp_path: Path) -> Iterator[tuple[str, Receiver]]:
    """The API and one worker; yields the API's URL and a receiver the test starts itself."""
    receiver = Receiver()
    receiver.port = free_port()
    port = free_port()
    env = zapq_env(
        redis_url,
        sim.url,
        ZAPQ_EVOLUTION__WEBHOOK_TOKEN=TOKEN,
        ZAPQ_CALLBACKS__DEFAULT_URL=receiver.url,
        ZAPQ_CALLBACKS__ALLOW_PRIVATE_NETWORKS="true",
        ZAPQ_CALLBACKS__SIGNING_SECRET=SECRET,
        ZAPQ_CALLBACKS__FULL_PHONE_NUMBERS="true",
        ZAPQ_CALLBACKS__RETRY_DELAYS_SECONDS="0.2,0.5,1",
        ZAPQ_WORKER__POLL_DELAY_SECONDS="0.01",
        ZAPQ_SENDERS='[{"name": "zapq", "rate_per_second": 1000, "burst": 100}]',
    )
    api = spawn(["api", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "api.log")
    worker = spawn(["worker"], env, tmp_path / "worker.log")
    try:
        wait_for_port(port, 30, proc=api)
        yield f"http://127.0.0.1:{port}", receiver
    finally:
        stop_process(worker)
        stop_process(api)


def hook_up(sim: Any, api_url: str) -> None:
    """Evolution's webhook for the instance: by-event paths, a jwt_key header."""
    body = {
        "webhook": {
            "enabled": True,
            "url": f"{api_url}/v1/webhooks/evolution",
            "byEvents": True,
            "headers": {"jwt_key": TOKEN},
            "events": ["MESSAGES_UPDATE", "MESSAGES_UPSERT", "CONNECTION_UPDATE"],
        }
    }
    response = httpx.post(f"{sim.url}/webhook/set/zapq", json=body, headers={"apikey": "evo-key"})
    assert response.status_code == 201, response.text


async def test_receipts_callbacks_and_opt_out(stack: tuple[str, Receiver], sim: Any) -> None:
    api_url, receiver = stack
    hook_up(sim, api_url)
    sim.configure(
        ack_delays_ms={"SERVER_ACK": 10, "DELIVERY_ACK": 10, "READ": 10},
        ack_probabilities={"SERVER_ACK": 1, "DELIVERY_ACK": 1, "READ": 1},
        webhook_shuffle=True,
        webhook_duplicate_rate=0.5,
    )
    async with receiver, httpx.AsyncClient(base_url=api_url, headers=KEY) as api:
        ids = []
        for n in range(COUNT):
            created = await api.post("/v1/messages", json={"to": f"1198765{n:04d}", "text": "oi"})
            assert created.status_code == 202, created.text
            ids.append(created.json()["id"])
        read = await receiver.wait_for(COUNT, "message.read")
        await receiver.wait_for(COUNT, "message.sent")
        assert {r.body["data"]["id"] for r in read} == set(ids)
        for message_id in ids:
            body = (await api.get(f"/v1/messages/{message_id}")).json()
            assert body["status"] == "read" and body["read_at"] and body["delivered_at"]
        for request in receiver.delivered():
            assert Webhook(SECRET).verify(request.raw, request.headers) == request.body
        # Each message reports sent, read and (when its DELIVERY_ACK came before READ) delivered,
        # once each, whatever order and how many times the receipts came.
        kinds = Counter(r.body["type"] for r in receiver.delivered())
        assert kinds["message.sent"] == kinds["message.read"] == COUNT
        assert kinds["message.delivered"] <= COUNT
        assert receiver.duplicates() == 0

        sim.inbound("SAIR", sender="5511987650003")
        await receiver.wait_for(1, "recipient.opted_out")
        [inbound] = await receiver.wait_for(1, "inbound.message")
        assert inbound.body["data"]["from"] == "5511987650003"
        refused = await api.post("/v1/messages", json={"to": "11987650003", "text": "oi"})
        assert refused.status_code == 422 and refused.json()["error"] == "recipient_opted_out"


async def test_a_closed_connection_holds_sends_until_it_opens(
    stack: tuple[str, Receiver], sim: Any
) -> None:
    api_url, receiver = stack
    hook_up(sim, api_url)
    sim.configure(connect_delay_seconds=0.5)
    async with receiver, httpx.AsyncClient(base_url=api_url, headers=KEY) as api:
        sim.instance("zapq", state="close")
        await eventually(lambda: _connection(api, "close"))
        created = await api.post("/v1/messages", json={"to": "11987650001", "text": "oi"})
        message_id = created.json()["id"]
        sim.instance("zapq", state="connecting")  # opens after connect_delay_seconds
        await eventually(lambda: _connection(api, "open"))
        [sent] = await receiver.wait_for(1, "message.sent")
        assert sent.body["data"]["id"] == message_id
        assert sim.stats()["accepted"] == 1


async def _connection(api: httpx.AsyncClient, state: str) -> bool:
    return bool((await api.get("/v1/senders/zapq")).json()["connection"] == state)
