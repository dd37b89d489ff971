"""The limiters' arithmetic: the shared per-sender GCRA (run on a real Redis, on its own clock) and
the per-process take budget."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from redis.asyncio import Redis

from service.limits import TokenBucket
from service.limits.shared import GCRA_LUA

# Reserve one send per arrival time (ARGV: rate, burst, times...): returns the send times.
_RESERVE = (
    GCRA_LUA
    + """
local rate, burst, tat, out = tonumber(ARGV[1]), tonumber(ARGV[2]), 0, {}
for i = 3, #ARGV do
  local at
  at, tat = gcra_reserve(tat, rate, burst, tonumber(ARGV[i]))
  out[#out + 1] = tostring(at)
end
return out
"""
)


async def reserve(redis: Redis, rate: float, burst: int, arrivals: list[float]) -> list[float]:
    raw = await redis.eval(_RESERVE, 0, rate, burst, *arrivals)  # type: ignore[misc]
    return [float(value) for value in raw]


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1000) for i, start in enumerate(times))


async def test_burst_then_spaced_by_the_rate(redis: Redis) -> None:
    sends = await reserve(redis, 20, 5, [1_000_000.0] * 12)
    assert sends[:5] == [1_000_000.0] * 5, "burst sends go at once"
    gaps = [b - a for a, b in itertools.pairwise(sends[4:])]
    assert gaps == pytest.approx([50.0] * 7), "then one every 1000/rate ms"


@pytest.mark.parametrize(("rate", "burst"), [(20, 5), (50, 10), (1, 1), (7.5, 3), (200, 50)])
async def test_no_second_holds_more_than_rate_plus_burst(
    redis: Redis, rate: float, burst: int
) -> None:
    rng = random.Random(f"{rate}/{burst}")
    arrivals, now = [], 1_000_000.0
    for _ in range(600):  # bursts, lulls and steady streams, in arrival order
        now += rng.choice([0, 0, 0, 1, 5, 30, 300, 2000])
        arrivals.append(now)
    sends = await reserve(redis, rate, burst, arrivals)
    assert all(send >= arrival for send, arrival in zip(sends, arrivals, strict=True))
    # burst + ceil(rate) - 1, which is below the promise of rate + burst.
    assert most_in_any_second(sends) <= burst + math.ceil(rate) - 1


async def test_idle_spell_restores_the_burst(redis: Redis) -> None:
    first = await reserve(redis, 10, 3, [0.0] * 3 + [5_000.0] * 3)
    assert first[3:] == [5_000.0] * 3


def test_take_budget_grants_what_is_banked() -> None:
    bucket = TokenBucket(rate_per_second=10, burst=4)
    assert bucket.take(10) == 4
    assert bucket.take(1) == 0
    assert 0 < bucket.seconds_until_token() <= 0.1
    bucket.give_back(2)
    assert bucket.take(5) == 2
    bucket.give_back(100)
    assert bucket.take(100) == 4, "never more than the burst"


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        TokenBucket(0, 1)
