"""A full Redis (maxmemory reached, noeviction): every script either refuses whole or runs to its
end (service/queue/scripts.py), the API answers 503 storage_full with nothing half-written and
/readyz fails while writes do, and workers finish what they hold and resume on their own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError

from service.api.app import create_app
from service.auth.keys import Principal
from service.errors import RateLimited
from service.limits.quotas import Quotas
from service.queue.callbacks import Attempt, CallbackEvent, CallbackQueue
from service.queue.models import NewMessage, Outcome, Status, now_ms
from service.queue.privacy import erase_recipient
from service.queue.receipts import Lifecycle, Receipt
from service.queue.scripts import SPECS
from service.queue.store import Claim, MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec, Settings
from tests.redis.conftest import Fill, snapshot
from tests.worker.conftest import Factory, enqueue, eventually, wait_status

POOL = [("s1", "2026-01-01")]
AUTH = {"Authorization": "Bearer test-key"}


def msg(**kwargs: Any) -> NewMessage:
    return NewMessage(to="5511987654321", text="oi", **kwargs)


async def claimed(queue: MessageQueue) -> Claim:
    await queue.enqueue([msg()], "k")
    [claim] = (await queue.take(1, 30, "w", POOL)).claims
    return claim


async def dead(queue: MessageQueue) -> str:
    claim = await claimed(queue)
    await queue.complete(claim, Outcome.DEAD, error="e", error_class="server_error")
    return claim.message_id


# What each script is asked to do on a full Redis, after a setup on a Redis with room. Refused:
# the call raises OOM and the database is unchanged. Run: it does its job.
async def _enqueue(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    await queue.enqueue([msg(idempotency_key="seen")], "k")
    batch = [msg(idempotency_key="seen"), msg(), msg(send_at_ms=now_ms() + 60_000)]
    return lambda: queue.enqueue(batch, "k")


async def _take(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    await queue.enqueue([msg()], "k")
    return lambda: queue.take(5, 30, "w", POOL)


async def _promote(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    [result] = await queue.enqueue([msg(send_at_ms=now_ms() + 60_000)], "k")
    await queue.redis.zadd(queue.keys.scheduled, {result.message_id: 1})  # due now
    return lambda: queue.promote_due(POOL)


async def _requeue(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    message_id = await dead(queue)
    return lambda: queue.requeue([message_id])


URL = "http://127.0.0.1:9/hook"
PHONE = "5511987654321"
QUOTA = Principal("tenant", frozenset({"send"}), requests_per_second=5, messages_per_day=10)


async def sent_with_callback(queue: MessageQueue) -> Claim:
    """A message sent as Evolution's ``p``, its message.sent callback queued."""
    await queue.enqueue([msg(callback_url=URL)], "k")
    [claim] = (await queue.take(1, 30, "w", POOL)).claims
    await queue.complete(claim, Outcome.SENT, provider_id="p", remote_jid="j")
    return claim


async def leased_callback(queue: MessageQueue) -> CallbackEvent:
    await sent_with_callback(queue)
    [event] = (await CallbackQueue(queue).claim(1, 30_000, 10)).events
    return event


async def _receipt(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    await sent_with_callback(queue)
    return lambda: Lifecycle(queue).receipts([Receipt("p", Status.DELIVERED)])


async def _callback_replay(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    callbacks = CallbackQueue(queue)
    event = await leased_callback(queue)
    await callbacks.done(event, Attempt.DEAD, error="http_5xx")
    return lambda: callbacks.replay([event.id])


async def _quota_day(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    quotas = Quotas(queue, "UTC", 20)
    await quotas.reserve(QUOTA, 1)
    return lambda: quotas.reserve(QUOTA, 1)


REFUSED = {
    "enqueue": _enqueue,
    "take": _take,
    "promote": _promote,
    "requeue": _requeue,
    "receipt": _receipt,
    "callback_replay": _callback_replay,
    "quota_day": _quota_day,
}


async def _complete(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    claim = await claimed(queue)

    async def call() -> object:
        await queue.complete(claim, Outcome.SENT, provider_id="p", remote_jid="j")
        return await queue.get(claim.message_id)

    return call


async def _finish(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    claim = await claimed(queue)
    return lambda: queue.finish_job(claim.job_id, requeue=True)


async def _rebook(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    claim = await claimed(queue)
    return lambda: queue.rebook(claim, 30, "2026-01-01")


async def _cancel(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    [result] = await queue.enqueue([msg()], "k")
    return lambda: queue.cancel(result.message_id)


async def _sender_put(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    registry = SenderRegistry(queue)
    return lambda: registry.put(SenderSpec(name="s2"))


async def _sender_delete(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    registry = SenderRegistry(queue)
    return lambda: registry.delete("s1")


async def _inbound(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    lifecycle = Lifecycle(queue)
    return lambda: lifecycle.inbound(
        PHONE, url=URL, opt_out={"source": "keyword", "keyword": "SAIR"}
    )


async def _callback_claim(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    await sent_with_callback(queue)
    return lambda: CallbackQueue(queue).claim(1, 30_000, 10)


async def _callback_done(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    event = await leased_callback(queue)
    return lambda: CallbackQueue(queue).done(event, Attempt.DELIVERED)


async def _erase(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    await sent_with_callback(queue)
    return lambda: erase_recipient(queue, PHONE)


async def _quota_rate(queue: MessageQueue) -> Callable[[], Awaitable[object]]:
    quotas = Quotas(queue, "UTC", 1)

    async def call() -> bool:
        await quotas.request(QUOTA)
        try:
            await quotas.request(QUOTA)  # the first one was counted: past the burst of 1
        except RateLimited:
            return True
        return False

    return call


RUN = {
    "inbound": (_inbound, lambda result: result.suppressed and result.events == 1),
    "callback_claim": (_callback_claim, lambda claimed: len(claimed.events) == 1),
    "callback_done": (_callback_done, lambda recorded: recorded is True),
    "erase": (_erase, lambda erased: (erased.messages, erased.callback_events) == (1, 1)),
    "quota_rate": (_quota_rate, lambda limited: limited is True),
    "complete": (_complete, lambda record: record.status == "sent"),
    "finish": (_finish, lambda requeued: requeued is True),
    "rebook": (_rebook, lambda claim: claim is not None),
    "cancel": (_cancel, lambda outcome: outcome == ("cancelled", None)),
    "sender_put": (_sender_put, lambda created: created is True),
    "sender_delete": (_sender_delete, lambda deleted: deleted is True),
}


def test_every_script_says_what_a_full_redis_does_with_it() -> None:
    assert set(REFUSED) | set(RUN) == set(SPECS)
    assert {name for name, spec in SPECS.items() if spec.when_full == "refuse"} == set(REFUSED)


@pytest.mark.parametrize("name", sorted(REFUSED))
async def test_refused_whole_nothing_written(
    name: str, queue: MessageQueue, redis: Redis, full: Fill
) -> None:
    call = await REFUSED[name](queue)
    before = await snapshot(redis)
    await full(True)
    with pytest.raises(OutOfMemoryError):
        await call()
    await full(False)
    assert await snapshot(redis) == before
    await call()  # with room again it goes through


@pytest.mark.parametrize("name", sorted(RUN))
async def test_runs_to_its_end(name: str, queue: MessageQueue, full: Fill) -> None:
    setup, done = RUN[name]
    call = await setup(queue)
    await full(True)
    assert done(await call())


@pytest.fixture
async def app(settings: Settings, redis: Redis) -> Any:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=AUTH) as c:
        yield c


ONE = {"to": "+5511987654321", "text": "oi"}


async def post_one_and_batch(client: httpx.AsyncClient) -> list[httpx.Response]:
    return [
        await client.post("/v1/messages", json=ONE),
        await client.post("/v1/messages/batch", json={"messages": [ONE] * 3}),
    ]


def storage_full(response: httpx.Response) -> bool:
    body = response.json()
    return (response.status_code, body["error"], response.headers.get("retry-after")) == (
        503,
        "storage_full",
        "60",
    ) and "nothing was written" in body["detail"]


async def test_api_answers_storage_full_and_is_not_ready(
    app: Any,
    client: httpx.AsyncClient,
    redis: Redis,
    full: Fill,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backpressure = app.state.backpressure
    backpressure.reading_ttl_seconds = 3600  # its reading, taken now, says there is room
    assert (await client.post("/v1/messages", json=ONE)).status_code == 202
    before = await snapshot(redis)
    await full(True)
    # Redis itself refuses: the enqueue script's first write (a full Redis, a stale reading).
    assert all(storage_full(response) for response in await post_one_and_batch(client))
    # The API's own reading sees Redis past its maxmemory: the same answer, without a write.
    backpressure.reading_ttl_seconds = 0
    assert all(storage_full(response) for response in await post_one_and_batch(client))
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    [logged] = [r for r in caplog.records if r.getMessage() == "not ready: redis"]
    assert logged.__dict__["reason"] == "redis_full"
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/v1/queue")).status_code == 200, "reads still work"
    await full(False)
    assert await snapshot(redis) == before, "nothing was half-written"
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.post("/v1/messages", json=ONE)).status_code == 202


async def test_workers_record_what_they_hold_then_wait_then_resume(
    redis: Redis, wsettings: Settings, start_worker: Factory, sim: Any, full: Fill
) -> None:
    sim.configure(latency_ms=300)
    queue = MessageQueue(redis, wsettings)
    ids = await enqueue(queue, 30)
    worker = await start_worker()
    await eventually(lambda: _in_flight(sim, 3))
    await full(True)
    # What was in flight is recorded (complete runs on a full Redis); nothing is left "sending".
    await eventually(lambda: _settled(queue, ids))
    sent_while_full = sim.stats()["accepted"]
    assert sent_while_full < len(ids), "takes are refused while Redis is full"
    await full(False)
    for message_id in ids:
        await wait_status(queue, message_id, "sent", timeout=40)
    assert sim.stats()["duplicates"] == 0
    assert sim.stats()["accepted"] == len(ids)
    assert worker.main_task is not None and not worker.main_task.done(), "the worker lived on"


async def _in_flight(sim: Any, n: int) -> bool:
    return bool(sim.stats()["in_flight"] >= n)


async def _settled(queue: MessageQueue, ids: list[str]) -> bool:
    records = await asyncio.gather(*(queue.get(message_id) for message_id in ids))
    statuses = {record.status for record in records if record is not None}
    return "sending" not in statuses and statuses <= {"sent", "queued"}
