"""The per-sender rate limit, shared by every worker process and pod through Redis.

The arithmetic is a GCRA (gcra.lua), run inside take.lua: a sender's reservation rides in the same
atomic call that takes and routes a job, so the limit costs no extra round trip per message and two
pods can never both take a sender's last token. Guarantee: in any 1-second window a sender gets at
most ``burst + ceil(rate_per_second) - 1`` sends (reservation times; below rate + burst), however
many pods take jobs; a
worker sends at its reservation time, so only its own lateness (event-loop lag) can move a send,
and lateness only spreads sends out. Measured: docs/benchmarks.md, "Sender pool".

A reservation can lie up to ``pool.reserve_ahead_seconds`` in the future: the worker holds the job
until then. That keeps every sender's next slots booked while a poll is on its way (the pool runs
at its summed rate), at the cost of an urgent message waiting behind at most that much of booked
work.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

#: gcra_next(tat, rate, burst, now) and gcra_reserve(...): included in take.lua's source.
GCRA_LUA: Final = (resources.files(__package__) / "gcra.lua").read_text()
#: quota_request(...) and quota_reserve(...): the API keys' quotas (service/limits/quotas.py).
QUOTA_LUA: Final = (resources.files(__package__) / "quota.lua").read_text()
