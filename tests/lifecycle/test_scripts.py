"""The lifecycle's scripts against the real Redis: receipts in and out of order, the provider
index, callbacks queued with the change they report, the callback queue's leases and caps."""

from __future__ import annotations

import asyncio

import pytest

from service.queue.callbacks import Attempt, CallbackQueue, CallbackType
from service.queue.models import NewMessage, Outcome, Status, now_ms
from service.queue.receipts import Lifecycle, Receipt
from service.queue.store import MessageQueue
from tests.lifecycle.conftest import HOOK, sent_message
from tests.queue.conftest import POOL, take_one


async def test_sent_indexes_the_provider_id_and_queues_message_sent(
    queue: MessageQueue, callbacks: CallbackQueue
) -> None:
    message_id = await sent_message(queue, "3EB0AA")
    assert await queue.redis.get(queue.keys.provider("3EB0AA")) == message_id.encode()
    ttl = await queue.redis.pttl(queue.keys.provider("3EB0AA"))
    assert 0 < ttl <= queue.settings.messages.retention_seconds * 1000
    [event] = (await callbacks.claim(10, 30_000, 5)).events
    assert (event.type, event.message_id, event.status, event.url) == (
        CallbackType.SENT,
        message_id,
        "sent",
        HOOK,
    )
    assert event.id == f"{message_id}.1" and event.attempt == 1


async def test_receipts_move_forward_only(queue: MessageQueue, lifecycle: Lifecycle) -> None:
    message_id = await sent_message(queue, "3EB0BB")
    read = await lifecycle.receipts([Receipt("3EB0BB", Status.READ)])
    late = await lifecycle.receipts(
        [Receipt("3EB0BB", Status.DELIVERED), Receipt("3EB0BB", Status.ACKNOWLEDGED)]
    )
    again = await lifecycle.receipts([Receipt("3EB0BB", Status.READ)])
    assert [r.outcome for r in read + late + again] == ["applied", "stale", "stale", "duplicate"]
    assert read[0].message_id == message_id and read[0].sent_at_ms is not None
    record = await queue.get(message_id)
    assert record is not None and record.status == "read"
    assert record.read_at_ms is not None and record.delivered_at_ms == record.read_at_ms
    assert [h["status"] for h in record.history][-2:] == ["sent", "read"]


async def test_receipts_in_order_each_queue_their_event(
    queue: MessageQueue, lifecycle: Lifecycle, callbacks: CallbackQueue
) -> None:
    message_id = await sent_message(queue, "3EB0CC")
    statuses = [Status.ACKNOWLEDGED, Status.DELIVERED, Status.DELIVERED, Status.READ]
    results = [await lifecycle.receipts([Receipt("3EB0CC", s)]) for s in statuses]
    assert [r[0].outcome for r in results] == ["applied", "applied", "duplicate", "applied"]
    events = (await callbacks.claim(10, 30_000, 10)).events
    # acknowledged reports nothing; each event names the status and time it reports.
    assert [e.type for e in events] == ["message.sent", "message.delivered", "message.read"]
    assert [e.id for e in events] == [f"{message_id}.{n}" for n in (1, 2, 3)]
    assert events[1].at_ms <= events[2].at_ms
    record = await queue.get(message_id)
    assert record is not None and record.delivered_at_ms is not None
    assert record.delivered_at_ms <= (record.read_at_ms or 0)


async def test_error_receipt_fails_a_sent_message_but_not_a_read_one(
    queue: MessageQueue, lifecycle: Lifecycle
) -> None:
    failing = await sent_message(queue, "3EB0DD", to="5511987650001")
    read = await sent_message(queue, "3EB0EE", to="5511987650002")
    await lifecycle.receipts([Receipt("3EB0EE", Status.READ)])
    results = await lifecycle.receipts(
        [Receipt("3EB0DD", Status.FAILED, "ERROR"), Receipt("3EB0EE", Status.FAILED, "ERROR")]
    )
    assert [r.outcome for r in results] == ["applied", "stale"]
    record = await queue.get(failing)
    assert record is not None and (record.status, record.error_class) == (
        "failed",
        "delivery_failed",
    )
    assert (await queue.get(read)).status == "read"  # type: ignore[union-attr]


async def test_unknown_provider_id_changes_nothing(lifecycle: Lifecycle) -> None:
    [result] = await lifecycle.receipts([Receipt("3EB0FF", Status.DELIVERED)])
    assert result.outcome == "unknown" and result.message_id is None


async def test_no_callback_url_queues_no_event(
    queue: MessageQueue, callbacks: CallbackQueue, lifecycle: Lifecycle
) -> None:
    await sent_message(queue, "3EB0AB", callback_url=None)
    await lifecycle.receipts([Receipt("3EB0AB", Status.DELIVERED)])
    assert (await callbacks.claim(10, 30_000, 10)).events == []


async def test_cancel_queues_message_cancelled(
    queue: MessageQueue, callbacks: CallbackQueue
) -> None:
    [result] = await queue.enqueue(
        [NewMessage(to="5511987654321", text="oi", callback_url=HOOK)], "k"
    )
    assert (await queue.cancel(result.message_id))[0] == "cancelled"
    [event] = (await callbacks.claim(10, 30_000, 10)).events
    assert (event.type, event.status) == ("message.cancelled", "cancelled")


async def test_endpoint_cap_is_shared_and_frees_on_done(
    queue: MessageQueue, callbacks: CallbackQueue, lifecycle: Lifecycle
) -> None:
    for n in range(5):
        await lifecycle.inbound(f"551198765000{n}", url=HOOK, forward={"text": "oi"})
    await lifecycle.inbound("5511987650009", url="http://127.0.0.1:9/other", forward={})
    first = await callbacks.claim(10, 30_000, 2)
    # Two for the first endpoint (its cap), one for the other: a backlog holds back only its own.
    assert sorted(e.url for e in first.events) == [HOOK, HOOK, "http://127.0.0.1:9/other"]
    assert (await callbacks.claim(10, 30_000, 2)).events == []
    assert await callbacks.done(first.events[0], Attempt.DELIVERED)
    [next_one] = (await callbacks.claim(10, 30_000, 2)).events
    assert next_one.url == HOOK


async def test_retry_dead_and_replay(callbacks: CallbackQueue, lifecycle: Lifecycle) -> None:
    await lifecycle.inbound("5511987650001", url=HOOK, forward={"text": "oi"})
    [event] = (await callbacks.claim(1, 30_000, 5)).events
    retry_at = now_ms() + 50
    assert await callbacks.done(event, Attempt.RETRY, next_at_ms=retry_at, error="HTTP 500")
    claimed = await callbacks.claim(1, 30_000, 5)
    assert (claimed.events, claimed.next_at_ms) == ([], retry_at)
    await _until_past(retry_at)
    [again] = (await callbacks.claim(1, 30_000, 5)).events
    assert again.attempt == 2
    assert await callbacks.done(again, Attempt.DEAD, error="HTTP 500")
    total, [dead] = await callbacks.dead_letters()
    assert (total, dead.id, dead.attempts, dead.last_error) == (1, event.id, 2, "HTTP 500")
    assert await callbacks.replay([event.id, "nope"]) == [event.id]
    [replayed] = (await callbacks.claim(1, 30_000, 5)).events
    assert (replayed.id, replayed.attempt) == (event.id, 1)
    assert (await callbacks.dead_letters())[0] == 0


async def test_a_lost_lease_gives_the_event_back(
    callbacks: CallbackQueue, lifecycle: Lifecycle
) -> None:
    await lifecycle.inbound("5511987650001", url=HOOK, forward={"text": "oi"})
    [event] = (await callbacks.claim(1, 1, 5)).events  # a 1 ms lease: the dispatcher "died"
    await _until_past(now_ms() + 2)
    [again] = (await callbacks.claim(1, 30_000, 5)).events
    assert (again.id, again.attempt) == (event.id, 2)
    # The first holder reports late: its outcome no longer counts, the new holder's does.
    assert not await callbacks.done(event, Attempt.RETRY, next_at_ms=now_ms(), error="late")
    assert not await callbacks.done(event, Attempt.DELIVERED)  # the new holder's is on its way
    assert await callbacks.done(again, Attempt.DELIVERED)
    assert not await callbacks.redis.exists(callbacks.keys.callback(event.id))
    assert await callbacks.redis.hgetall(callbacks.keys.callbacks_busy) == {}


async def _until_past(at_ms: int) -> None:
    while now_ms() <= at_ms:
        await asyncio.sleep(0.001)


@pytest.mark.parametrize("source", ["keyword", "api"])
async def test_opt_out_is_recorded_once_with_its_event(
    lifecycle: Lifecycle, callbacks: CallbackQueue, source: str
) -> None:
    how = {"source": source}
    first = await lifecycle.inbound("5511987654321", url=HOOK, opt_out=how)
    second = await lifecycle.inbound("5511987654321", url=HOOK, opt_out=how)
    assert (first.suppressed, first.events, second.suppressed, second.events) == (True, 1, False, 0)
    [event] = (await callbacks.claim(10, 30_000, 10)).events
    assert (event.type, event.phone, event.data) == ("recipient.opted_out", "5511987654321", how)
    suppression = await lifecycle.suppression("5511987654321")
    assert suppression is not None and suppression.source == source


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(Outcome.FAILED, "failed"), (Outcome.DEAD, "dead"), (Outcome.EXPIRED, "expired")],
)
async def test_each_final_outcome_queues_its_event(
    queue: MessageQueue, callbacks: CallbackQueue, outcome: Outcome, status: str
) -> None:
    [result] = await queue.enqueue(
        [NewMessage(to="5511987654321", text="oi", callback_url=HOOK)], "k"
    )
    claim = await take_one(queue, result.message_id)
    await queue.complete(claim, outcome, error="400", error_class="rejected")
    [event] = (await callbacks.claim(10, 30_000, 10)).events
    assert (event.type, event.status) == (f"message.{status}", status)


async def test_expired_when_taken_queues_message_expired(
    queue: MessageQueue, callbacks: CallbackQueue
) -> None:
    message = NewMessage(
        to="5511987654321", text="oi", callback_url=HOOK, expires_at_ms=now_ms() + 1
    )
    [result] = await queue.enqueue([message], "k")
    await _until_past(now_ms() + 2)
    assert [s.reason for s in (await queue.take(1, 30, "w", POOL)).skipped] == ["expired"]
    [event] = (await callbacks.claim(10, 30_000, 10)).events
    assert (event.type, event.message_id) == ("message.expired", result.message_id)
