"""Routing, stickiness, pinning, breakers, daily limits and the poison rule, on a real Redis.

These drive take.lua and complete.lua directly (MessageQueue.take / complete), as a worker does;
tests/worker/test_pool.py runs the same through real worker processes and the simulator.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from service.queue.models import Breaker, Connection, NewMessage, Outcome, now_ms
from service.queue.store import Claim, MessageQueue
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec, Settings

DAY = "2026-01-01"


@pytest.fixture
def fast_breaker(settings: Settings) -> Settings:
    pool = settings.pool.model_copy(update={"breaker_open_seconds": 0.2, "breaker_failures": 3})
    return settings.model_copy(update={"pool": pool})


@pytest.fixture
async def queue(redis: Redis, fast_breaker: Settings) -> MessageQueue:
    return MessageQueue(redis, fast_breaker)


@pytest.fixture
async def registry(queue: MessageQueue) -> SenderRegistry:
    registry = SenderRegistry(queue)
    for name in ("s1", "s2"):
        await registry.put(SenderSpec(name=name, rate_per_second=1000, burst=1000))
    return registry


POOL = [("s1", DAY), ("s2", DAY)]


def msg(to: str = "5511987654321", **kwargs: Any) -> NewMessage:
    return NewMessage(to=to, text="oi", **kwargs)


async def take(queue: MessageQueue, n: int = 1, pool: Any = None) -> list[Claim]:
    return (await queue.take(n, 30, "w", POOL if pool is None else pool)).claims


async def send_ok(queue: MessageQueue, claim: Claim) -> None:
    done = await queue.complete(claim, Outcome.SENT, provider_id="p", remote_jid="j")
    assert done.outcome is Outcome.SENT


async def fault(
    queue: MessageQueue, claim: Claim, error_class: str = "instance_unavailable"
) -> Any:
    """A sender fault, with Python's fallback decision for a counted attempt (a retry)."""
    return await queue.complete(
        claim,
        Outcome.RETRY,
        error="HTTP 400: Error: Connection Closed",
        error_class=error_class,
        next_at=now_ms() + 60_000,
        sender_fault=True,
    )


async def test_sticky_recipient_keeps_its_sender(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    await queue.enqueue([msg(sender="s2")], "k")
    [first] = await take(queue)
    await send_ok(queue, first)
    # s1's next slot comes first (s2 just sent), yet the recipient stays with s2.
    await queue.enqueue([msg(), msg(to="5511912345678")], "k")
    claims = await take(queue, 2)
    assert {c.to: c.sender for c in claims} == {"5511987654321": "s2", "5511912345678": "s1"}
    for claim in claims:
        await send_ok(queue, claim)
    # While its sender is paused, the recipient goes elsewhere (and sticks there after).
    await registry.set_paused("s2", True)
    await queue.enqueue([msg()], "k")
    [moved] = await take(queue)
    assert moved.sender == "s1"


async def test_pinned_sender_parks_while_paused(
    queue: MessageQueue, registry: SenderRegistry, redis: Redis
) -> None:
    await registry.set_paused("s2", True)
    [pinned] = await queue.enqueue([msg(sender="s2")], "k")
    [other] = await queue.enqueue([msg(to="5511912345678")], "k")
    [claim] = await take(queue, 2)
    assert claim.message_id == other.message_id, "the pinned message does not block the queue"
    assert await redis.zcard(queue.keys.parked("s2")) == 1
    await registry.set_paused("s2", False)  # resuming hands its parked messages back
    [claim] = await take(queue)
    assert (claim.message_id, claim.sender) == (pinned.message_id, "s2")


async def test_unknown_and_deleted_senders(queue: MessageQueue, registry: SenderRegistry) -> None:
    [refused] = await queue.enqueue([msg(sender="nope")], "k")
    assert refused.outcome == "unknown_sender"
    assert (await queue.stats()).ready_total == 0, "nothing is written"
    [pinned] = await queue.enqueue([msg(sender="s2")], "k")
    assert await registry.delete("s2")
    taken = await queue.take(1, 30, "w", [("s1", DAY)])
    assert taken.claims == [] and [s.reason for s in taken.skipped] == ["failed"]
    record = await queue.get(pinned.message_id)
    assert record is not None and (record.status, record.error_class) == (
        "failed",
        "sender_unknown",
    )


async def test_sender_fault_reroutes_without_counting(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    [result] = await queue.enqueue([msg(sender=None)], "k")
    [claim] = await take(queue)
    done = await fault(queue, claim)
    assert done.outcome is Outcome.REROUTED
    record = await queue.get(result.message_id)
    assert record is not None and (record.status, record.attempts) == ("queued", 0)
    [again] = await take(queue)
    assert again.sender != claim.sender, "the sender that refused it is passed over"
    await send_ok(queue, again)
    record = await queue.get(result.message_id)
    assert record is not None and (record.status, record.attempts) == ("sent", 1)
    rerouted = [h for h in record.history if h.get("rerouted_from")]
    assert rerouted == [
        {
            "status": "queued",
            "at_ms": rerouted[0]["at_ms"],
            "error_class": "instance_unavailable",
            "rerouted_from": claim.sender,
        }
    ]


async def test_breaker_opens_then_half_open_trial_closes_it(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    await queue.enqueue([msg(to=f"55119876543{i:02d}", sender="s1") for i in range(3)], "k")
    for _ in range(3):
        [claim] = await take(queue)
        assert claim.sender == "s1"
        await fault(queue, claim)
    [state] = [s for s in await registry.states(now_ms()) if s.sender.name == "s1"]
    assert state.breaker is Breaker.OPEN and state.last_error_class == "instance_unavailable"
    taken = await queue.take(1, 30, "w", POOL)
    assert taken.claims == [] and taken.retry_at_ms is not None, "pinned ones wait for it"
    await asyncio.sleep(0.25)  # breaker_open_seconds
    await queue.promote_due(POOL)
    [trial] = await take(queue)
    assert trial.sender == "s1"
    await send_ok(queue, trial)
    [state] = [s for s in await registry.states(now_ms()) if s.sender.name == "s1"]
    assert state.breaker is Breaker.CLOSED and state.parked == 0


async def test_unpinned_traffic_moves_off_an_open_breaker(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    await queue.enqueue([msg(to=f"55119876543{i:02d}") for i in range(12)], "k")
    senders = []
    for _ in range(12):
        [claim] = await take(queue)
        senders.append(claim.sender)
        if claim.sender == "s1":
            await fault(queue, claim)
        else:
            await send_ok(queue, claim)
    # s1 refused 3 in a row (breaker_failures): it is open and every later take goes to s2.
    assert senders.count("s1") == 3
    stats = await queue.stats()
    assert stats.ready_total == 3 and stats.retrying == 0 and stats.dead_letters == 0


async def test_poison_message_counts_its_attempt(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    [poison] = await queue.enqueue([msg(to="5511900000001")], "k")
    [claim] = await take(queue)
    first = claim.sender
    assert (await fault(queue, claim, "server_error")).outcome is Outcome.REROUTED
    await asyncio.sleep(0.01)  # the other sender's success comes after the fault (ms clock)
    # Other messages go through the other sender: it works.
    await queue.enqueue([msg(to="5511900000002", sender="s1" if first == "s2" else "s2")], "k")
    claims = await take(queue, 2)
    ok = next(c for c in claims if c.message_id != poison.message_id)
    again = next(c for c in claims if c.message_id == poison.message_id)
    await send_ok(queue, ok)
    assert again.sender != first
    done = await fault(queue, again, "server_error")
    assert done.outcome is Outcome.RETRY, "failed on two senders while they work: its own fault"
    record = await queue.get(poison.message_id)
    assert record is not None and (record.status, record.attempts) == ("scheduled", 1)
    assert record.history[-1].get("poison") is True
    states = {s.sender.name: s for s in await registry.states(now_ms())}
    assert all(s.breaker is Breaker.CLOSED for s in states.values())


async def test_daily_limit_moves_traffic_and_resets_next_day(
    queue: MessageQueue, registry: SenderRegistry, redis: Redis
) -> None:
    await registry.put(SenderSpec(name="s1", rate_per_second=1000, burst=1000, daily_limit=2))
    await registry.set_paused("s2", True)
    await queue.enqueue([msg(to=f"55119876543{i:02d}", sender="s1") for i in range(3)], "k")
    claims = await take(queue, 3)
    assert len(claims) == 2, "the third waits for tomorrow"
    assert await redis.zcard(queue.keys.parked("s1")) == 1
    tomorrow = [("s1", "2026-01-02"), ("s2", "2026-01-02")]
    await queue.promote_due(tomorrow)
    [claim] = await take(queue, 1, tomorrow)
    assert claim.sender == "s1"


async def test_disconnected_sender_is_not_routed(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    await registry.set_connection("s1", Connection.CLOSE)
    await queue.enqueue([msg(to=f"55119876543{i:02d}") for i in range(4)], "k")
    assert {c.sender for c in await take(queue, 4)} == {"s2"}


async def test_nothing_routable_leaves_messages_queued(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    for name in ("s1", "s2"):
        await registry.set_paused(name, True)
    await queue.enqueue([msg()], "k")
    taken = await queue.take(1, 30, "w", POOL)
    assert (taken.claims, taken.empty, taken.retry_at_ms) == ([], False, None)
    assert (await queue.stats()).ready_total == 1


async def test_last_slot_goes_to_one_taker(
    queue: MessageQueue, registry: SenderRegistry, redis_url: str
) -> None:
    """Many pods asking at once for a sender with one free slot: exactly one gets it."""
    await registry.put(SenderSpec(name="s1", rate_per_second=0.5, burst=1))
    await queue.enqueue([msg(to=f"55119876543{i:02d}") for i in range(20)], "k")
    clients = [Redis.from_url(redis_url) for _ in range(20)]
    try:
        queues = [MessageQueue(client, queue.settings) for client in clients]
        results = await asyncio.gather(*(q.take(1, 30, "w", [("s1", DAY)]) for q in queues))
    finally:
        for client in clients:
            await client.aclose()
    claims = [claim for result in results for claim in result.claims]
    assert len(claims) == 1, "a 2-second slot interval leaves room for one send only"


async def test_a_late_worker_books_the_next_slot(
    queue: MessageQueue, registry: SenderRegistry
) -> None:
    """A worker that wakes past its slot books the sender's next one: the late send cannot bunch
    with the sends booked after it (the rate holds), and today's count does not grow."""
    await registry.put(SenderSpec(name="s1", rate_per_second=10, burst=1))
    await queue.enqueue([msg(to=f"55119876543{i:02d}") for i in range(2)], "k")
    [first, second] = (await queue.take(2, 30, "w", [("s1", DAY)])).claims
    assert second.send_at_ms - first.send_at_ms == 100 and first.interval_ms == 100
    rebooked = await queue.rebook(first, 30, DAY)
    assert rebooked is not None and rebooked.send_at_ms >= second.send_at_ms + 100
    day_count = await queue.redis.hget(queue.keys.sender("s1"), "day_count")
    assert day_count == b"2", "a rebooking is the same send: the day's count stays"
    await send_ok(queue, rebooked)
    assert await queue.rebook(first, 30, DAY) is None, "a recorded message is no longer its claim's"


async def test_a_booked_out_pool_stops_the_scan(queue: MessageQueue, redis: Redis) -> None:
    """With every sender booked out nothing further could go: the take reads the head message
    and stops, instead of reading every record of its scan (one sender shared by many workers
    would otherwise pay the whole scan on every poll)."""
    await SenderRegistry(queue).put(SenderSpec(name="s1", rate_per_second=1, burst=1))
    pool = [("s1", DAY)]
    await queue.enqueue([msg(to=f"55119876543{i:02d}") for i in range(20)], "k")
    assert len(await take(queue, 1, pool)) == 1  # its one slot is booked
    await redis.config_resetstat()
    taken = await queue.take(5, 30, "w", pool)
    assert (taken.claims, taken.empty) == ([], False) and taken.retry_at_ms is not None
    hmget = (await redis.info("commandstats"))["cmdstat_hmget"]["calls"]
    assert hmget == 2  # the sender's state and the head message's record
