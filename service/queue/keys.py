"""Every Redis key zapq uses, with its lifetime.

key                            type    lifetime
zapq:msg:{id}                  hash    expires_at + messages.retention_seconds; reset to the
                                       retention on a final state (dead: dead-letter retention)
zapq:idem:{key_id}:{sha256}    string  api.idempotency_ttl_seconds (24 h); the scheduler's: the
                                       message's expiry + schedule.dedupe_margin_seconds
zapq:queue                     zset    none: arq's ready queue; members come and go with jobs
zapq:scheduled                 zset    none: msg id -> send_at ms; emptied by the promoter
zapq:retry                     zset    none: msg id -> next attempt ms; emptied by the promoter
zapq:inflight                  zset    none: job id -> lock deadline ms while a worker runs it
zapq:dead                      zset    none: msg id -> dead ms; trimmed to the dead-letter
                                       retention on every insert
zapq:schedule:last-run         hash    none: one small hash, overwritten by each scheduler run
arq:job:{msg id}.{generation}  string  the arq job (JSON): its message's expiry + 1 day
arq:retry:{job id}             string  arq's delivery counter: 88,400 s (arq's own)
zapq:queue:health-check        string  arq's worker heartbeat: health_check_interval + 1 s

The zsets have no TTL because they are indexes: every member is removed by the code path that ends
its message (send, cancel, requeue, retention trim); a TTL would drop live messages with them.

Ready-queue scores put priority first and readiness time second: ``score = ready_ms + BAND[p]``.
All bands are far in the past, so every member is due at once (score <= now), and
``ZRANGEBYSCORE -inf now`` returns urgent, then normal, then low, each oldest first.

Workers take jobs with take.lua instead of arq's own read path: arq leaves running jobs at the head
of its queue and re-checks each one on every poll (about 48 Redis round trips per message at
50 msg/s). take.lua moves a job to zapq:inflight in the same atomic step, scored by its lock
deadline (job_timeout_seconds + 10 s, like arq's in-progress key), so the ready queue holds only
ready jobs and a dead worker's jobs come back when their deadline passes.
"""

from __future__ import annotations

from typing import Final, Literal

Priority = Literal["urgent", "normal", "low"]
PRIORITIES: Final[tuple[Priority, ...]] = ("urgent", "normal", "low")

PREFIX: Final = "zapq:"
QUEUE: Final = "zapq:queue"
SCHEDULED: Final = "zapq:scheduled"
RETRY: Final = "zapq:retry"
DEAD: Final = "zapq:dead"
INFLIGHT: Final = "zapq:inflight"
HEALTH_CHECK: Final = QUEUE + ":health-check"
# The last `zapq schedule` run: last_run_at, last_success_at (unix s), last_failed (0|1), summary.
SCHEDULE_LAST_RUN: Final = "zapq:schedule:last-run"

# arq's own key prefixes (arq.constants); repeated here so that no module outside service/queue and
# service/worker imports arq. tests/queue/test_keys.py checks they still match the installed arq.
ARQ_JOB_PREFIX: Final = "arq:job:"
ARQ_RETRY_PREFIX: Final = "arq:retry:"

# A band is 10^13 ms wide: every unix-ms timestamp until the year 2286 fits inside one, so bands
# never overlap, and scores stay exact in a double (< 2^53).
BAND_MS: Final = 10**13
BAND: Final[dict[str, int]] = {"urgent": -3 * BAND_MS, "normal": -2 * BAND_MS, "low": -1 * BAND_MS}

# The arq job key outlives its message's expiry by this much: a job popped after expiry still finds
# its payload, and the worker records the message as expired instead of arq silently dropping it.
JOB_EXTRA_TTL_MS: Final = 86_400_000


def message(message_id: str) -> str:
    return f"zapq:msg:{message_id}"


def idempotency(key_id: str, key_hash: str) -> str:
    return f"zapq:idem:{key_id}:{key_hash}"


def arq_job(job_id: str) -> str:
    return ARQ_JOB_PREFIX + job_id


def band_range(priority: str) -> tuple[int, int]:
    """Score range ``[lo, hi)`` of one priority band in the ready queue."""
    lo = BAND[priority]
    return lo, lo + BAND_MS
