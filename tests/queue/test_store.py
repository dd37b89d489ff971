"""MessageQueue against a real Redis: ordering, scheduling, claims, outcomes, requeue, TTLs."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from service.queue.keys import Priority
from service.queue.models import (
    CROCKFORD,
    Content,
    Kind,
    Media,
    MediaType,
    NewMessage,
    Outcome,
    new_message_id,
    new_message_ids,
    now_ms,
)
from service.queue.store import MessageQueue, Promoted
from tests.queue.conftest import POOL, head, msg, take_one


async def test_priority_then_fifo(queue: MessageQueue, redis: Redis) -> None:
    order = ["low", "normal", "urgent", "normal", "low", "urgent"]
    results = []
    for index, priority in enumerate(order):
        results += await queue.enqueue(
            [msg(str(index), priority=Priority(priority))], "k", at_ms=now_ms() + index
        )
    ids = [r.message_id for r in results]
    expected = [ids[2], ids[5], ids[1], ids[3], ids[0], ids[4]]
    assert await head(queue, 10) == expected


async def test_urgent_overtakes_large_backlog(queue: MessageQueue) -> None:
    for _ in range(20):
        await queue.enqueue([msg() for _ in range(500)], "k")
    [urgent] = await queue.enqueue([msg(priority=Priority.URGENT)], "k")
    assert await head(queue, 1) == [urgent.message_id]
    stats = await queue.stats()
    assert stats.ready == {"urgent": 1, "normal": 10_000, "low": 0}


async def test_scheduled_is_promoted_when_due(queue: MessageQueue, redis: Redis) -> None:
    now = now_ms()
    [later] = await queue.enqueue([msg(send_at_ms=now + 60_000)], "k", at_ms=now)
    [soon] = await queue.enqueue(
        [msg(send_at_ms=now + 50, priority=Priority.URGENT)], "k", at_ms=now
    )
    assert (await queue.stats()).scheduled == 2
    assert await queue.promote_due(POOL) == Promoted(leader=True, moved=0, next_at_ms=now + 50)
    await redis.zadd(queue.keys.scheduled, {soon.message_id: now - 1})  # make it due now
    assert (await queue.promote_due(POOL)).moved == 1
    assert await head(queue, 5) == [soon.message_id]
    record = await queue.get(soon.message_id)
    assert record is not None and record.status == "queued"
    assert [h["status"] for h in record.history] == ["scheduled", "queued"]
    assert (await queue.get(later.message_id)).status == "scheduled"  # type: ignore[union-attr]


async def test_take_claims_routes_and_books(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg("Olá")], "k")
    claim = await take_one(queue, result.message_id)
    assert (claim.attempt, claim.redelivered, claim.sender) == (1, False, "s1")
    assert claim.content == Content(Kind.TEXT, "Olá")
    assert claim.send_at_ms <= now_ms() + 1, "an idle sender's first slot is now"
    assert (await queue.stats()).in_flight == 1
    record = await queue.get(result.message_id)
    assert record is not None and (record.status, record.sender) == ("sending", "s1")


async def test_sent_then_duplicate_delivery_cannot_overwrite(
    queue: MessageQueue, redis: Redis
) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim = await take_one(queue, result.message_id)
    done = await queue.complete(claim, Outcome.SENT, provider_id="3EB0AA", remote_jid="x@s")
    assert done.recorded and done.outcome is Outcome.SENT
    record = await queue.get(result.message_id)
    assert record is not None and record.status == "sent" and record.provider_id == "3EB0AA"
    late = await queue.complete(claim, Outcome.FAILED, error="late", error_class="x")
    assert not late.recorded, "only the job that holds the message records its outcome"
    assert (await queue.stats()).in_flight == 0, "recording the outcome ends the job's run"
    assert await redis.exists(queue.keys.arq_job(claim.job_id)) == 0


async def test_expired_is_skipped_at_take(queue: MessageQueue, redis: Redis) -> None:
    now = now_ms()
    [result] = await queue.enqueue([msg(expires_at_ms=now + 20)], "k", at_ms=now)
    await redis.hset(queue.keys.message(result.message_id), "expires_at", now - 1)
    taken = await queue.take(1, 30, "w", POOL)
    assert taken.claims == []
    [skip] = taken.skipped
    assert (skip.reason, skip.priority, skip.message_id) == ("expired", "normal", result.message_id)
    assert (await queue.get(result.message_id)).status == "expired"  # type: ignore[union-attr]


async def test_retry_then_dead_then_requeue(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    mid = result.message_id
    claim = await take_one(queue, mid)
    await queue.complete(
        claim, Outcome.RETRY, error="boom", error_class="unexpected_response", next_at=now_ms()
    )
    record = await queue.get(mid)
    assert record is not None and record.status == "scheduled" and record.next_attempt_at_ms
    assert (await queue.stats()).retrying == 1
    assert (await queue.promote_due(POOL)).moved == 1
    claim = await take_one(queue, mid)
    assert claim.attempt == 2
    await queue.complete(claim, Outcome.DEAD, error="boom", error_class="unexpected_response")
    stats = await queue.stats()
    assert (stats.dead_letters, stats.retrying, stats.ready_total) == (1, 0, 0)
    total, page = await queue.dead_letters()
    assert total == 1 and page[0].last_error == "boom"
    assert 14 * 86_400 - 5 < await redis.ttl(queue.keys.message(mid)) <= 14 * 86_400
    assert await queue.requeue_all(error_class="timeout") == []
    assert await queue.requeue_all(error_class="unexpected_response") == [mid]
    record = await queue.get(mid)
    assert record is not None and record.status == "queued" and record.attempts == 0
    assert await head(queue, 5) == [mid]
    assert await queue.requeue([mid]) == [], "only dead letters are requeued"


async def test_cancel_then_take_skips(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    assert await queue.cancel(result.message_id) == ("cancelled", None)
    assert await redis.zcard(queue.keys.queue) == 0
    taken = await queue.take(1, 30, "w", POOL)
    assert taken.empty and taken.claims == []
    assert await queue.cancel("missing") == ("missing", None)


async def test_cannot_cancel_while_sending(queue: MessageQueue) -> None:
    [result] = await queue.enqueue([msg()], "k")
    await take_one(queue, result.message_id)
    assert await queue.cancel(result.message_id) == ("conflict", "sending")


async def test_cancel_waiting_retry(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim = await take_one(queue, result.message_id)
    await queue.complete(
        claim, Outcome.RETRY, error="e", error_class="unexpected_response", next_at=now_ms() + 10**6
    )
    assert await queue.cancel(result.message_id) == ("cancelled", None)
    assert await redis.zcard(queue.keys.retry) == 0


async def test_final_states_shorten_ttl(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim = await take_one(queue, result.message_id)
    await queue.complete(claim, Outcome.SENT, provider_id="p", remote_jid="j")
    assert 7 * 86_400 - 5 < await redis.ttl(queue.keys.message(result.message_id)) <= 7 * 86_400


async def test_enqueue_is_atomic_per_message(queue: MessageQueue, redis: Redis) -> None:
    before = set(await redis.keys("*"))
    [result] = await queue.enqueue([msg(idempotency_key="a")], "k")
    added = {k.decode() for k in set(await redis.keys("*")) - before}
    kinds = {key.split(":")[1] for key in added}
    assert kinds == {"job", "queue", "msg", "idem", "wake", "recipient"}
    assert all("{zapq}" in key for key in added), "every key carries the hash tag"
    assert (await queue.get(result.message_id)).idempotency_key == "a"  # type: ignore[union-attr]


@pytest.mark.parametrize("scheduled", [False, True], ids=["queued", "scheduled"])
async def test_the_record_enqueue_answers_is_the_one_it_wrote(
    queue: MessageQueue, redis: Redis, scheduled: bool
) -> None:
    """One HSET writes a new record whole: what the caller is answered is what a read gives,
    with its first job (queued) or none yet (scheduled), and the optional fields it sets."""
    now = now_ms()
    message = msg(
        idempotency_key="i",
        sender="s1",
        callback_url="https://example.com/cb",
        send_at_ms=now + 60_000 if scheduled else None,
    )
    [result] = await queue.enqueue([message], "k", at_ms=now)
    assert result.record is not None and result.record == await queue.get(result.message_id)
    raw = await redis.hgetall(queue.keys.message(result.message_id))
    status = "scheduled" if scheduled else "queued"
    assert raw[b"history"] == f'[["{status}",{now}]]'.encode()
    assert (raw[b"status"], raw[f"{status}_at".encode()]) == (status.encode(), str(now).encode())
    assert raw[b"pin"] == b"s1" and raw[b"callback_url"] == b"https://example.com/cb"
    assert raw[b"idem"].startswith(queue.keys.idempotency("k", "").encode())
    if scheduled:
        assert b"job" not in raw and b"gen" not in raw
    else:
        assert raw[b"gen"] == b"1" and await redis.zscore(queue.keys.queue, raw[b"job"])


async def test_a_call_of_thousands_queues_them_all(queue: MessageQueue, redis: Redis) -> None:
    """The queue entries of one call go in by ZADDs of at most 1,000 (Lua's unpack has a limit);
    api.max_batch_items may allow 10,000."""
    priorities = [Priority.LOW if i % 2 else Priority.URGENT for i in range(2500)]
    results = await queue.enqueue([msg(priority=p) for p in priorities], "k", records=False)
    assert [result.outcome for result in results] == ["new"] * 2500
    assert await redis.zcard(queue.keys.queue) == 2500
    urgent = {r.message_id for r, p in zip(results, priorities, strict=True) if p == "urgent"}
    assert set(await head(queue, 1250)) == urgent


async def test_payload_round_trip(queue: MessageQueue) -> None:
    media = Media(MediaType.DOCUMENT, "https://example.com/b.pdf", "application/pdf", "b.pdf")
    message = NewMessage(
        to="5511987654321", text="Seu boleto", kind=Kind.MEDIA, media=media, metadata={"a": 1}
    )
    [result] = await queue.enqueue([message], "k")
    record = await queue.get(result.message_id)
    assert record is not None and record.content == message.content
    claim = await take_one(queue, result.message_id)
    assert claim.content == message.content


async def test_take_moves_jobs_in_flight_by_priority(queue: MessageQueue) -> None:
    [low] = await queue.enqueue([msg(priority=Priority.LOW)], "k")
    [normal] = await queue.enqueue([msg()], "k")
    [urgent] = await queue.enqueue([msg(priority=Priority.URGENT)], "k")
    taken = await queue.take(2, 30, "w", POOL)
    assert [c.message_id for c in taken.claims] == [urgent.message_id, normal.message_id]
    stats = await queue.stats()
    assert (stats.ready_total, stats.in_flight) == (1, 2)
    rest = await queue.take(5, 30, "w", POOL)
    assert [c.message_id for c in rest.claims] == [low.message_id]


async def test_interrupted_job_goes_back_in_place(queue: MessageQueue, redis: Redis) -> None:
    [first] = await queue.enqueue([msg("a")], "k")
    await queue.enqueue([msg("b")], "k", at_ms=now_ms() + 5)
    [claim] = (await queue.take(1, 30, "w", POOL)).claims
    assert await queue.finish_job(claim.job_id, requeue=True)
    assert await redis.zscore(queue.keys.queue, claim.job_id) == claim.score
    assert await head(queue, 1) == [first.message_id], "it keeps its place at the head"
    assert (await queue.stats()).in_flight == 0


async def test_finished_job_is_deleted(queue: MessageQueue, redis: Redis) -> None:
    await queue.enqueue([msg()], "k")
    [claim] = (await queue.take(1, 30, "w", POOL)).claims
    assert not await queue.finish_job(claim.job_id, requeue=False)
    assert await redis.exists(queue.keys.arq_job(claim.job_id)) == 0
    assert (await queue.stats()).in_flight == 0


async def test_expired_lock_redelivers(queue: MessageQueue) -> None:
    await queue.enqueue([msg()], "k")
    [first] = (await queue.take(1, 0, "dies", POOL)).claims  # its worker then died
    assert not first.redelivered
    assert (await queue.promote_due(POOL)).moved == 1
    [again] = (await queue.take(1, 30, "rescuer", POOL)).claims
    assert again.job_id == first.job_id
    assert again.redelivered and again.attempt == 2


async def test_lock_expiry_of_a_finished_message_drops_the_job(
    queue: MessageQueue, redis: Redis
) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim = await take_one(queue, result.message_id)
    await queue.complete(claim, Outcome.SENT, provider_id="p", remote_jid="j")
    await redis.zadd(queue.keys.inflight, {claim.job_id: 1})  # its worker died before arq's finish
    assert (await queue.promote_due(POOL)).moved == 0
    assert await redis.zcard(queue.keys.queue) == 0
    assert await redis.exists(queue.keys.arq_job(claim.job_id)) == 0


async def test_wake_tokens_are_bounded(queue: MessageQueue, redis: Redis) -> None:
    for _ in range(20):
        await queue.enqueue([msg()], "k")
    assert await redis.llen(queue.keys.wake) == 8


@pytest.mark.parametrize("prefix", ["{billing}", "{a.b-c_1}"])
async def test_prefix_keeps_installations_apart(
    queue: MessageQueue, redis: Redis, prefix: str
) -> None:
    other_settings = queue.settings.model_copy(update={"redis_key_prefix": prefix})
    other = MessageQueue(redis, other_settings)
    [mine] = await queue.enqueue([msg()], "k")
    [theirs] = await other.enqueue([msg()], "k")
    assert await head(queue, 5) == [mine.message_id]
    assert await head(other, 5) == [theirs.message_id]


async def test_one_promoter_at_a_time(queue: MessageQueue, redis: Redis) -> None:
    now = now_ms()
    await queue.enqueue([msg(send_at_ms=now + 60_000)], "k", at_ms=now)
    first = await queue.promote_due(POOL, worker="a", lease_seconds=10)
    assert first.leader and first.next_at_ms == now + 60_000
    assert not (await queue.promote_due(POOL, worker="b")).leader, "b follows while a's lease lasts"
    await redis.delete(queue.keys.promoter)  # a's lease ran out (its pod went)
    assert (await queue.promote_due(POOL, worker="b")).leader


async def test_scheduling_wakes_the_promoter(queue: MessageQueue, redis: Redis) -> None:
    await queue.enqueue([msg(send_at_ms=now_ms() + 60_000) for _ in range(3)], "k")
    assert await redis.llen(queue.keys.promote_wake) == 1, "one token is enough"


def _value(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = value * 32 + CROCKFORD.index(char)
    return value


def test_message_ids_are_ulids() -> None:
    """Crockford base32 of (ms << 80 | 80 random bits), 26 digits: the ULID spec's reference."""
    ms = 1_796_000_000_123
    ulid = new_message_id(ms)
    assert len(ulid) == 26 and _value(ulid) >> 80 == ms
    assert new_message_id(1000) < new_message_id(2000) < new_message_id(10**13 - 1)


def test_a_batch_of_ids_is_ulids_of_one_ms() -> None:
    """Each id of a batch is the reference encoding of the ms and its own 80 random bits."""
    for ms in (0, 1, 1_796_000_000_123, 2**48 - 1):
        ids = new_message_ids(1000, ms)
        assert len(set(ids)) == 1000
        for ulid in ids:
            value = _value(ulid)
            assert len(ulid) == 26 and value >> 80 == ms
            digits = "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -5, -5))
            assert digits == ulid
        # 80 random bits each: every bit position takes both values across a thousand ids.
        noise = [_value(ulid) & (2**80 - 1) for ulid in ids]
        assert all(0 < sum(n >> bit & 1 for n in noise) < 1000 for bit in range(80))
