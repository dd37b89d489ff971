"""WhatsAppInstance end to end: `zapq operator` (a real process) against kmock, the Evolution
simulator and Redis: pairing, the webhook, the sender in the registry, spec updates, a dropped
session, deletion with in-flight sends."""

from __future__ import annotations

import base64
from pathlib import Path

import kmock
import pytest
from redis.asyncio import Redis

from service.evolution.admin import WEBHOOK_EVENTS
from service.queue.keys import Keys
from service.queue.models import Connection
from service.senders.registry import SenderRegistry
from tests.operator.conftest import Start
from tests.operator.harness import (
    HOOK_TOKEN,
    HOOK_URL,
    NAMESPACE,
    condition,
    declare,
    eventually,
    instance,
    kubeconfig,
    operator_env,
    path,
    running_operator,
    status,
    stored,
)
from tests.sim_fixture import SimControl

pytestmark = pytest.mark.slow


def phase_is(emulator: kmock.KubernetesEmulator, name: str, phase: str) -> bool:
    return status(emulator, name).get("phase") == phase


def qr_secret(emulator: kmock.KubernetesEmulator) -> dict[str, str]:
    """The operator's QR Secret's data, decoded."""
    try:
        secret = emulator.objects["v1/secrets", NAMESPACE, "zapq-whatsapp-qrcodes"]
    except KeyError:
        return {}
    data = dict(secret.get("data") or {})
    return {key: base64.b64decode(value).decode() for key, value in data.items() if value}


async def create(emulator: kmock.KubernetesEmulator, name: str, **spec: object) -> None:
    response = await emulator.post(path(), json=instance(name, **spec))
    assert response.status == 200, await response.text()


async def test_create_pairs_then_routes(
    kmock: kmock.KubernetesEmulator,
    sim: SimControl,
    registry: SenderRegistry,
    start_operator: Start,
) -> None:
    sim.configure(connect_delay_seconds=3600)  # the QR code is scanned when the test says so
    await start_operator()
    await create(kmock, "sales", evolution={"url": sim.url}, ratePerSecond=5, burst=3)
    await eventually(lambda: phase_is(kmock, "sales", "AwaitingQRCode"), what="AwaitingQRCode")

    hook = sim.instance("sales")["webhook"]
    assert (hook["url"], hook["enabled"], hook["webhookByEvents"]) == (HOOK_URL, True, False)
    assert hook["headers"] == {"Authorization": f"Bearer {HOOK_TOKEN}"}
    assert sorted(hook["events"]) == sorted(WEBHOOK_EVENTS)
    qr = status(kmock, "sales")["qrCode"]
    assert (qr["secretName"], qr["key"]) == ("zapq-whatsapp-qrcodes", "sales.qr")
    code = qr_secret(kmock)["sales.qr"]  # the code is in the Secret, never in the status
    assert code
    assert code not in str(status(kmock, "sales"))
    sender = await registry.get("sales")
    assert sender is not None
    assert (sender.paused, sender.rate_per_second, sender.burst) == (True, 5, 3)
    assert sender.api_key.get_secret_value() == sim.instance("sales")["token"]

    sim.instance("sales", state="open")  # scanned
    await eventually(lambda: phase_is(kmock, "sales", "Connected"), what="Connected")
    sender = await registry.get("sales")
    assert sender is not None
    assert (sender.paused, sender.connection) == (False, Connection.OPEN)
    done = status(kmock, "sales")
    assert done["number"] == sim.instance("sales")["ownerJid"].split("@")[0]
    assert condition(kmock, "sales", "Ready")["status"] == "True"
    assert "sales.qr" not in qr_secret(kmock)  # of no more use once paired


async def test_spec_changes_reach_the_registry_and_immutable_fields_are_refused(
    kmock: kmock.KubernetesEmulator,
    sim: SimControl,
    registry: SenderRegistry,
    start_operator: Start,
) -> None:
    await start_operator()
    await create(kmock, "sales", evolution={"url": sim.url})
    await eventually(lambda: phase_is(kmock, "sales", "Connected"), what="Connected")

    change = {"spec": {"ratePerSecond": 2.5, "burst": 4, "dailyLimit": 900, "paused": True}}
    await kmock.patch(path("sales"), json=change)

    async def applied() -> bool:
        sender = await registry.get("sales")
        assert sender is not None
        return (sender.rate_per_second, sender.burst, sender.daily_limit, sender.paused) == (
            2.5,
            4,
            900,
            True,
        )

    await eventually(applied)
    await eventually(lambda: condition(kmock, "sales", "Ready").get("reason") == "Paused")

    await kmock.patch(path("sales"), json={"spec": {"instanceName": "other"}})
    await eventually(
        lambda: condition(kmock, "sales", "Reconciled").get("reason") == "ImmutableField",
        what="ImmutableField",
    )
    assert "instanceName" in condition(kmock, "sales", "Reconciled")["message"]
    assert await registry.get("other") is None


async def test_a_session_closed_for_good_pauses_the_sender(
    kmock: kmock.KubernetesEmulator,
    sim: SimControl,
    registry: SenderRegistry,
    start_operator: Start,
) -> None:
    await start_operator()
    await create(kmock, "sales", evolution={"url": sim.url})
    await eventually(lambda: phase_is(kmock, "sales", "Connected"), what="Connected")

    sim.instance("sales", state="close")  # logged out on the phone
    await eventually(lambda: phase_is(kmock, "sales", "Disconnected"), what="Disconnected")
    sender = await registry.get("sales")
    assert sender is not None
    assert (sender.paused, sender.connection) == (True, Connection.CLOSE)
    assert condition(kmock, "sales", "Connected")["reason"] == "LoggedOut"
    assert condition(kmock, "sales", "Ready")["reason"] == "NotConnected"


async def test_delete_waits_for_in_flight_sends(
    kmock: kmock.KubernetesEmulator,
    sim: SimControl,
    registry: SenderRegistry,
    redis: Redis,
    start_operator: Start,
) -> None:
    await start_operator()
    await create(kmock, "sales", evolution={"url": sim.url}, deleteInstanceOnRemoval=True)
    await create(kmock, "keep", evolution={"url": sim.url})
    await eventually(lambda: phase_is(kmock, "sales", "Connected"), what="Connected")
    await eventually(lambda: phase_is(kmock, "keep", "Connected"), what="keep Connected")
    keys = Keys()
    job = keys.job_id("01JSENDING", 1)  # a send in flight through "sales"
    await redis.hset(keys.message("01JSENDING"), mapping={"sender": "sales"})
    await redis.zadd(keys.inflight, {job: 1})

    await kmock.delete(path("sales"))
    await eventually(lambda: _paused(registry, "sales"), what="paused")
    assert stored(kmock, "sales") is not None  # held by the finalizer while the send runs
    assert await registry.in_flight("sales") == 1

    await redis.zrem(keys.inflight, job)  # the send ended
    await eventually(lambda: stored(kmock, "sales") is None, what="deleted")
    assert await registry.get("sales") is None
    assert await registry.get("keep") is not None
    assert "sales" not in {i["name"] for i in sim.instances()}  # deleteInstanceOnRemoval

    await kmock.delete(path("keep"))
    await eventually(lambda: stored(kmock, "keep") is None, what="keep deleted")
    assert "keep" in {i["name"] for i in sim.instances()}  # the session survives by default


async def _paused(registry: SenderRegistry, name: str) -> bool:
    sender = await registry.get(name)
    return sender is not None and sender.paused


async def test_a_restarted_operator_sets_the_webhook_again(
    kmock: kmock.KubernetesEmulator, sim: SimControl, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    declare(kmock)
    config = kubeconfig(tmp_path / "kubeconfig", str(kmock.url))
    async with running_operator(operator_env(redis_url, sim.url, config), tmp_path / "1.log"):
        await create(kmock, "sales", evolution={"url": sim.url})
        await eventually(lambda: phase_is(kmock, "sales", "Connected"), what="Connected")
    assert sim.instance("sales")["webhook"]["url"] == HOOK_URL

    moved = "http://127.0.0.1:9/v1/webhooks/evolution/moved"
    env = operator_env(redis_url, sim.url, config, ZAPQ_OPERATOR__WEBHOOK_URL=moved)
    async with running_operator(env, tmp_path / "2.log"):
        await eventually(lambda: sim.instance("sales")["webhook"]["url"] == moved, what="moved")
    assert phase_is(kmock, "sales", "Connected")
