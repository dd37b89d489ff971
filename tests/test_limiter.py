"""The token bucket's arithmetic, checked on its own clock (no wall-clock thresholds)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from service.limits import TokenBucket


async def test_burst_is_free_then_spaced_by_rate() -> None:
    bucket = TokenBucket(rate_per_second=100, burst=5)
    waits = [await bucket.acquire() for _ in range(5)]
    assert max(waits) < 0.005, "the banked burst is taken at once"
    # The bank is empty: the next caller waits about one 1/rate slot (less whatever refilled).
    assert await bucket.acquire() > 0.008


async def test_waiters_take_turns() -> None:
    bucket = TokenBucket(rate_per_second=200, burst=1)
    waits = await asyncio.gather(*(bucket.acquire() for _ in range(4)))
    assert waits[0] < 0.005
    # FIFO, each one 1/rate (5 ms) after the previous at least.
    assert waits == sorted(waits)
    assert waits[3] >= 3 / 200


async def test_sends_under_backlog_are_spaced_by_the_rate() -> None:
    bucket = TokenBucket(rate_per_second=100, burst=3)
    stamps = []
    for _ in range(12):
        await bucket.acquire()
        stamps.append(time.monotonic())
    after_burst = stamps[3:]
    gaps = [b - a for a, b in itertools.pairwise(after_burst)]
    # A lower bound holds however loaded the machine: lateness never lets sends bunch up.
    assert min(gaps) >= 1 / 100 - 0.001


async def test_a_busy_worker_does_not_catch_up_after_a_stall() -> None:
    bucket = TokenBucket(rate_per_second=100, burst=3)
    for _ in range(4):
        await bucket.acquire()  # the burst, then one paced send: the worker is busy
    await asyncio.sleep(0.2)  # a stall (slow Evolution): 20 tokens' worth of time, still busy
    stamps = []
    for _ in range(6):
        await bucket.acquire()
        stamps.append(time.monotonic())
    # One token ahead at most, then paced again: no burst of 20 after the stall.
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 1 / 100 - 0.001


async def test_an_idle_worker_gets_its_burst_back() -> None:
    bucket = TokenBucket(rate_per_second=1000, burst=5)
    for _ in range(5):
        await bucket.acquire()
    await asyncio.sleep(1.1)  # idle for longer than IDLE_SECONDS
    waits = [await bucket.acquire() for _ in range(5)]
    assert max(waits) < 0.005


async def test_cancelled_waiter_consumes_nothing() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=1)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The next caller waits for the one token still accruing, not for two.
    assert await bucket.acquire() < 0.1 + 0.05


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        TokenBucket(0, 1)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, 0)
