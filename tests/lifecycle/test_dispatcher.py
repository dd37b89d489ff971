"""The callback dispatcher against a receiver on loopback: signed bodies, retries until every
event arrives, dead letters and replay, the SSRF guard."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from standardwebhooks import Webhook

from service.callbacks.dispatcher import running
from service.queue.callbacks import CallbackQueue
from service.queue.models import Status
from service.queue.receipts import Lifecycle, Receipt
from service.queue.store import MessageQueue
from service.settings import Settings
from tests.lifecycle.conftest import sent_message
from tests.lifecycle.receiver import Receiver
from tests.worker.conftest import eventually

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()


def callback_settings(settings: Settings, **callbacks: Any) -> Settings:
    """The test settings with fast retries, signing secrets and loopback receivers allowed."""
    data = settings.model_dump()
    data["redis_url"] = settings.redis_url.get_secret_value()
    data["api_keys"] = [key.get_secret_value() for key in settings.api_keys]
    data["evolution"]["api_key"] = "evo-key"
    # An idle dispatcher blocks half of this: a retry due meanwhile waits at most that long.
    data["redis_timeout_seconds"] = 0.5
    data["callbacks"] = {
        "retry_delays_seconds": [0.05, 0.1, 0.1],
        "allow_private_networks": True,
        "signing_secret": SECRET,
        "previous_signing_secret": OLD_SECRET,
        "timeout_seconds": 2,
        **callbacks,
    }
    return Settings.model_validate(data)


async def test_bodies_are_signed_with_both_secrets_and_describe_the_message(
    settings: Settings, queue: MessageQueue, lifecycle: Lifecycle, receiver: Receiver
) -> None:
    message_id = await sent_message(queue, "3EB0AA", callback_url=receiver.url, metadata={"n": 1})
    await lifecycle.receipts([Receipt("3EB0AA", Status.DELIVERED)])
    async with running(callback_settings(settings)):
        sent, delivered = await receiver.wait_for(2)
    for request in (sent, delivered):
        for secret in (SECRET, OLD_SECRET):  # a receiver holding either secret verifies
            assert Webhook(secret).verify(request.raw, request.headers) == request.body
    assert delivered.body["type"] == "message.delivered"
    assert delivered.body["data"] == {
        "id": message_id,
        "status": "delivered",
        "to": "55*******4321",
        "sender": "s1",
        "provider_message_id": "3EB0AA",
        "metadata": {"n": 1},
    }
    assert sent.body["timestamp"] <= delivered.body["timestamp"]
    assert delivered.event_id == f"{message_id}.2"


async def test_a_failing_receiver_gets_every_event_later(
    settings: Settings, lifecycle: Lifecycle, callbacks: CallbackQueue
) -> None:
    async with Receiver(fail_first=2) as receiver:
        for n in range(20):
            await lifecycle.inbound(f"55119876500{n:02d}", url=receiver.url, forward={"text": "oi"})
        async with running(callback_settings(settings, full_phone_numbers=True)):
            delivered = await receiver.wait_for(20)
    assert len(receiver.requests) == 60  # two refusals, then the delivery, for each event
    assert {r.body["data"]["from"] for r in delivered} == {f"55119876500{n:02d}" for n in range(20)}
    assert receiver.duplicates() == 0
    assert (await callbacks.dead_letters())[0] == 0


async def test_an_always_failing_receiver_ends_in_dead_letters_and_replays(
    settings: Settings, lifecycle: Lifecycle, callbacks: CallbackQueue
) -> None:
    async with Receiver(always_fail=True) as receiver:
        await lifecycle.inbound("5511987650001", url=receiver.url, forward={"text": "oi"})
        async with running(callback_settings(settings)):
            await eventually(lambda: _dead_count(callbacks, 1))
            assert len(receiver.requests) == 4  # the first try and three retries
            [dead] = (await callbacks.dead_letters())[1]
            assert (dead.type, dead.attempts, dead.last_error) == ("inbound.message", 4, "HTTP 500")
            receiver.always_fail = False
            assert await callbacks.replay([dead.id]) == [dead.id]
            [request] = await receiver.wait_for(1)
    assert request.event_id == dead.id
    assert (await callbacks.dead_letters())[0] == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_private_address_is_refused_without_the_setting(
    settings: Settings, lifecycle: Lifecycle, callbacks: CallbackQueue, host: str
) -> None:
    async with Receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", host)
        await lifecycle.inbound("5511987650001", url=url, forward={"text": "oi"})
        async with running(callback_settings(settings, allow_private_networks=False)):
            await eventually(lambda: _dead_count(callbacks, 1))
    assert receiver.requests == []
    [dead] = (await callbacks.dead_letters())[1]
    assert dead.attempts == 1 and "public" in (dead.last_error or "")


async def _dead_count(callbacks: CallbackQueue, count: int) -> bool:
    return (await callbacks.dead_letters())[0] >= count


async def test_an_event_whose_body_cannot_be_built_is_dead_at_once(
    settings: Settings, queue: MessageQueue, callbacks: CallbackQueue, receiver: Receiver
) -> None:
    message_id = await sent_message(queue, "3EB0AA", callback_url=receiver.url)
    await queue.redis.hset(queue.keys.message(message_id), "payload", "not JSON")  # type: ignore[misc]
    async with running(callback_settings(settings)):
        await eventually(lambda: _dead_count(callbacks, 1))
    assert receiver.requests == []
    [dead] = (await callbacks.dead_letters())[1]
    assert dead.attempts == 1 and (dead.last_error or "").startswith("Unrenderable")
