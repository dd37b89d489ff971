"""MessageQueue against a real Redis: ordering, scheduling, claims, outcomes, requeue, TTLs."""

from __future__ import annotations

import arq.constants
import pytest
from redis.asyncio import Redis

from service.queue import keys
from service.queue.models import NewMessage, new_message_id, now_ms
from service.queue.store import Claim, MessageQueue, Skip
from service.settings import Settings


@pytest.fixture
def queue(redis: Redis, settings: Settings) -> MessageQueue:
    return MessageQueue(redis, settings)


def msg(text: str = "oi", **kwargs: object) -> NewMessage:
    return NewMessage(to="5511987654321", text=text, **kwargs)  # type: ignore[arg-type]


async def head(redis: Redis, n: int) -> list[str]:
    """What arq would read: ZRANGEBYSCORE -inf now, in order."""
    ids = await redis.zrangebyscore(keys.QUEUE, "-inf", now_ms(), start=0, num=n)
    return [raw.decode().split(".")[0] for raw in ids]


async def take(queue: MessageQueue, redis: Redis, message_id: str) -> tuple[Claim, str]:
    """What a worker does: take the job (take.lua), then claim its message."""
    [taken] = await queue.take(1, lock_seconds=30, worker="test-worker")
    assert taken.job_id.startswith(message_id + ".")
    assert isinstance(taken.claim, Claim)
    return taken.claim, taken.job_id


def test_arq_key_prefixes_match_installed_arq() -> None:
    assert keys.ARQ_JOB_PREFIX == arq.constants.job_key_prefix
    assert keys.ARQ_RETRY_PREFIX == arq.constants.retry_key_prefix


def test_ids_sort_by_time() -> None:
    assert new_message_id(1000) < new_message_id(2000) < new_message_id(10**13 - 1)
    assert len(new_message_id()) == 26


async def test_priority_then_fifo(queue: MessageQueue, redis: Redis) -> None:
    order = ["low", "normal", "urgent", "normal", "low", "urgent"]
    results = []
    for index, priority in enumerate(order):
        results += await queue.enqueue(
            [msg(str(index), priority=priority)], "k", at_ms=now_ms() + index
        )
    ids = [r.message_id for r in results]
    expected = [ids[2], ids[5], ids[1], ids[3], ids[0], ids[4]]
    assert await head(redis, 10) == expected


async def test_urgent_overtakes_large_backlog(queue: MessageQueue, redis: Redis) -> None:
    for _ in range(20):
        await queue.enqueue([msg() for _ in range(500)], "k")
    [urgent] = await queue.enqueue([msg(priority="urgent")], "k")
    assert await head(redis, 1) == [urgent.message_id]
    stats = await queue.stats()
    assert stats.ready == {"urgent": 1, "normal": 10_000, "low": 0}


async def test_scheduled_is_promoted_when_due(queue: MessageQueue, redis: Redis) -> None:
    now = now_ms()
    [later] = await queue.enqueue([msg(send_at_ms=now + 60_000)], "k", at_ms=now)
    [soon] = await queue.enqueue([msg(send_at_ms=now + 50, priority="urgent")], "k", at_ms=now)
    assert (await queue.stats()).scheduled == 2
    assert await queue.promote_due() == 0
    await redis.zadd(keys.SCHEDULED, {soon.message_id: now - 1})  # make it due now
    assert await queue.promote_due() == 1
    assert await head(redis, 5) == [soon.message_id]
    record = await queue.get(soon.message_id)
    assert record is not None and record.status == "queued"
    assert [h["status"] for h in record.history] == ["scheduled", "queued"]
    assert (await queue.get(later.message_id)).status == "scheduled"  # type: ignore[union-attr]


async def test_claim_send_and_skip_when_done(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim, job = await take(queue, redis, result.message_id)
    assert (claim.attempt, claim.redelivered) == (1, False)
    assert (await queue.stats()).in_flight == 1
    assert await queue.complete(
        claim, job, "sent", provider_id="3EB0AA", remote_jid="x@s.whatsapp.net"
    )
    record = await queue.get(result.message_id)
    assert record is not None and record.status == "sent" and record.provider_id == "3EB0AA"
    # A redelivered job for a sent message is skipped and cannot overwrite the outcome.
    assert await queue.claim(job, "other") == Skip("sent")
    assert not await queue.complete(claim, job, "failed", error="late", error_class="x")
    assert (await queue.stats()).in_flight == 0, "recording the outcome ends the job's run"
    assert await redis.exists(keys.arq_job(job)) == 0


async def test_redelivery_is_flagged(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    _, job = await take(queue, redis, result.message_id)
    again = await queue.claim(job, "second-worker")
    assert isinstance(again, Claim) and again.redelivered and again.attempt == 2


async def test_stale_job_is_skipped(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    assert await queue.claim(f"{result.message_id}.99", "w") == Skip("stale")
    assert await queue.claim("missing.1", "w") == Skip("missing")


async def test_expired_on_claim(queue: MessageQueue, redis: Redis) -> None:
    now = now_ms()
    [result] = await queue.enqueue([msg(expires_at_ms=now + 20)], "k", at_ms=now)
    await redis.hset(keys.message(result.message_id), "expires_at", now - 1)
    job = (await redis.hget(keys.message(result.message_id), "job")).decode()
    skip = await queue.claim(job, "w")
    assert isinstance(skip, Skip) and skip.reason == "expired" and skip.priority == "normal"
    assert (await queue.get(result.message_id)).status == "expired"  # type: ignore[union-attr]


async def test_retry_then_dead_then_requeue(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    mid = result.message_id
    claim, first_job = await take(queue, redis, mid)
    await queue.complete(
        claim, first_job, "retry", error="boom", error_class="server_error", next_at=now_ms()
    )
    record = await queue.get(mid)
    assert record is not None and record.status == "scheduled" and record.next_attempt_at_ms
    assert (await queue.stats()).retrying == 1
    assert await queue.promote_due() == 1
    claim, job = await take(queue, redis, mid)
    assert claim.attempt == 2
    await queue.complete(claim, job, "dead", error="boom", error_class="server_error")
    for done in (first_job, job):
        await queue.finish_job(done, requeue=False)  # what the worker does after each run
    stats = await queue.stats()
    assert (stats.dead_letters, stats.retrying, stats.ready_total) == (1, 0, 0)
    total, page = await queue.dead_letters()
    assert total == 1 and page[0].last_error == "boom"
    assert 14 * 86_400 - 5 < await redis.ttl(keys.message(mid)) <= 14 * 86_400
    assert await queue.requeue_all(error_class="timeout") == []
    assert await queue.requeue_all(error_class="server_error") == [mid]
    record = await queue.get(mid)
    assert record is not None and record.status == "queued" and record.attempts == 0
    assert await head(redis, 5) == [mid]
    assert await queue.requeue([mid]) == [], "only dead letters are requeued"


async def test_cancel_then_claim_is_skipped(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    job = (await redis.hget(keys.message(result.message_id), "job")).decode()
    assert await queue.cancel(result.message_id) == ("cancelled", None)
    assert await redis.zcard(keys.QUEUE) == 0
    assert await queue.claim(job, "w") == Skip("cancelled")


async def test_cannot_cancel_while_sending(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    await take(queue, redis, result.message_id)
    assert await queue.cancel(result.message_id) == ("conflict", "sending")


async def test_cancel_waiting_retry(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim, job = await take(queue, redis, result.message_id)
    await queue.complete(
        claim, job, "retry", error="e", error_class="timeout", next_at=now_ms() + 10**6
    )
    assert await queue.cancel(result.message_id) == ("cancelled", None)
    assert await redis.zcard(keys.RETRY) == 0


async def test_final_states_shorten_ttl(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim, job = await take(queue, redis, result.message_id)
    await queue.complete(claim, job, "sent", provider_id="p", remote_jid="j")
    assert 7 * 86_400 - 5 < await redis.ttl(keys.message(result.message_id)) <= 7 * 86_400


async def test_enqueue_is_atomic_per_message(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg(idempotency_key="a")], "k")
    keys_now = {k.decode().split(":")[1] for k in await redis.keys("*")}
    assert keys_now == {"job", "queue", "msg", "idem"}
    assert (await queue.get(result.message_id)).idempotency_key == "a"  # type: ignore[union-attr]


async def test_take_moves_jobs_in_flight_by_priority(queue: MessageQueue, redis: Redis) -> None:
    [low] = await queue.enqueue([msg(priority="low")], "k")
    [normal] = await queue.enqueue([msg()], "k")
    [urgent] = await queue.enqueue([msg(priority="urgent")], "k")
    taken = await queue.take(2, lock_seconds=30, worker="w")
    assert [t.job_id.split(".")[0] for t in taken] == [urgent.message_id, normal.message_id]
    stats = await queue.stats()
    assert (stats.ready_total, stats.in_flight) == (1, 2)
    rest = await queue.take(5, lock_seconds=30, worker="w")
    assert [t.job_id.split(".")[0] for t in rest] == [low.message_id]


async def test_interrupted_job_goes_back_in_place(queue: MessageQueue, redis: Redis) -> None:
    [first] = await queue.enqueue([msg("a")], "k")
    await queue.enqueue([msg("b")], "k", at_ms=now_ms() + 5)
    [taken] = await queue.take(1, lock_seconds=30, worker="w")
    job, score = taken.job_id, taken.score
    await queue.finish_job(job, requeue=True)
    assert await redis.zscore(keys.QUEUE, job) == score
    assert await head(redis, 1) == [first.message_id], "it keeps its place at the head"
    assert (await queue.stats()).in_flight == 0


async def test_finished_job_is_deleted(queue: MessageQueue, redis: Redis) -> None:
    await queue.enqueue([msg()], "k")
    [taken] = await queue.take(1, lock_seconds=30, worker="w")
    job = taken.job_id
    await queue.finish_job(job, requeue=False)
    assert await redis.exists(keys.arq_job(job)) == 0
    assert (await queue.stats()).in_flight == 0


async def test_expired_lock_redelivers(queue: MessageQueue, redis: Redis) -> None:
    await queue.enqueue([msg()], "k")
    [first] = await queue.take(1, lock_seconds=0, worker="dies")  # its worker then died
    assert isinstance(first.claim, Claim) and not first.claim.redelivered
    assert await queue.promote_due() == 1
    [again] = await queue.take(1, lock_seconds=30, worker="rescuer")
    assert again.job_id == first.job_id
    claim = again.claim
    assert isinstance(claim, Claim) and claim.redelivered and claim.attempt == 2


async def test_lock_expiry_of_a_finished_message_drops_the_job(
    queue: MessageQueue, redis: Redis
) -> None:
    [result] = await queue.enqueue([msg()], "k")
    claim, job = await take(queue, redis, result.message_id)
    await queue.complete(claim, job, "sent", provider_id="p", remote_jid="j")
    await redis.zadd(keys.INFLIGHT, {job: 1})  # its worker died before telling arq it finished
    assert await queue.promote_due() == 0
    assert await redis.zcard(keys.QUEUE) == 0
    assert await redis.exists(keys.arq_job(job)) == 0
