"""The token bucket's arithmetic, checked on its own clock (no wall-clock thresholds)."""

from __future__ import annotations

import asyncio

import pytest

from service.limits import TokenBucket


async def test_burst_is_free_then_spaced_by_rate() -> None:
    bucket = TokenBucket(rate_per_second=100, burst=5)
    waits = [await bucket.acquire() for _ in range(5)]
    assert waits == [0.0] * 5
    # The bank is empty: the next caller waits about one 1/rate slot (less whatever refilled).
    assert 0 < await bucket.acquire() <= 0.01


async def test_waiters_take_turns() -> None:
    bucket = TokenBucket(rate_per_second=200, burst=1)
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(4)))
    assert waits[0] == 0.0
    assert sorted(waits[1:]) == waits[1:]
    assert waits[3] == pytest.approx(3 / 200, abs=0.004)


async def test_cancelled_waiter_returns_its_reservation() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=1)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    tokens_while_waiting = bucket._tokens
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket._tokens == pytest.approx(tokens_while_waiting + 1)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        TokenBucket(0, 1)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, 0)
