"""Every Redis key zapq uses, with its lifetime. ``P`` is the key prefix (``ZAPQ_REDIS_KEY_PREFIX``,
default ``{zapq}``): one Redis Cluster hash tag, so every key lives in one slot and the Lua scripts
run on Redis Cluster and on cluster-mode managed services (BullMQ's approach).

key                              type    lifetime
P:msg:{id}                       hash    expires_at + messages.retention_seconds; reset to the
                                         retention on a final state (dead: dead-letter retention)
P:idem:{key_id}:{sha256}         string  api.idempotency_ttl_seconds (24 h); the scheduler's: the
                                         message's expiry + schedule.dedupe_margin_seconds
P:queue                          zset    none: arq's ready queue; members come and go with jobs
P:scheduled                      zset    none: msg id -> send_at ms; emptied by the promoter
P:retry                          zset    none: msg id -> next attempt ms; emptied by the promoter
P:inflight                       zset    none: job id -> lock deadline ms while a worker runs it
P:dead                           zset    none: msg id -> dead ms; trimmed to the dead-letter
                                         retention on every insert
P:senders                        hash    none: the sender registry, name -> config JSON (Python's)
P:senders:version                string  none: bumped by every registry write (workers reload)
P:sender:{name}                  hash    none: what the scripts route on: rate, burst, daily
                                         limit, paused, limiter and breaker state; deleted with
                                         its sender
P:sender:{name}:minute           hash    120 s after the last send: sends per second, 60 slots
P:parked:{name}                  zset    none: jobs pinned to a sender that cannot take them now
                                         (paused, breaker open, daily limit); emptied when it can
P:sticky:{phone}                 string  pool.sticky_ttl_seconds (7 days): the recipient's sender
P:recipient:{phone}              zset    the longest life of a message of its own (expiry + the
                                         longer retention), extended by each new message: ids
                                         of the number's messages, for erasure
P:quota:{tenant}:rate            string  burst / rate: an API key's request-rate GCRA (tat, ms)
P:quota:{tenant}:day:{date}      string  2 days: messages an API key enqueued that day
P:wake                           list    none: at most a few tokens that wake idle workers
P:wake:promote                   list    none: at most one token: a message was scheduled or a
                                         retry set, the promoter looks again
P:promoter                       string  the lease (10 s): the worker id of the one promoter
P:schedule:last-run              hash    none: one small hash, overwritten by each scheduler run
P:provider:{evolution key.id}    string  messages.retention_seconds (7 days) from the send: the
                                         message a receipt (messages.update keyId) is about
P:suppressed                     zset    none: the suppression list, phone -> opted-out ms
P:suppressed:info                hash    none: phone -> how it opted out (JSON); with the zset
P:callback:{event id}            hash    one client callback event: CALLBACK_TTL_MS (7 days)
                                         until delivered (then deleted); a retry extends it past
                                         its next attempt; dead: the dead-letter retention
P:callbacks:endpoint:{endpoint}  zset    none: an endpoint's waiting events, id -> due ms
P:callbacks:ready                zset    none: endpoint -> due ms of its earliest event, while
                                         it has a free delivery slot
P:callbacks:leased               zset    none: event id -> lease deadline ms while a worker
                                         delivers it
P:callbacks:busy                 hash    none: endpoint -> deliveries in flight (the shared cap)
P:callbacks:dead                 zset    none: event id -> dead ms; trimmed to the dead-letter
                                         retention on every insert
P:callbacks:wake                 list    none: at most a few tokens that wake idle dispatchers
arq:job:{job id}                 string  the arq job (JSON): its message's expiry + 1 day
arq:retry:{job id}               string  arq's delivery counter: 88,400 s (arq's own)
P:queue:health-check             string  arq's worker heartbeat: health_check_interval + 1 s

A job id is ``P<message id>.<generation>``: arq builds its own keys from job ids with fixed
prefixes (``arq:job:``), so the job id carries the hash tag and arq's keys share the slot too.

The zsets have no TTL because they are indexes: every member is removed by the code path that ends
its message (send, cancel, requeue, retention trim); a TTL would drop live messages with them.

Ready-queue scores put priority first and readiness time second: ``score = ready_ms + BAND[p]``.
All bands are far in the past, so every member is due at once (score <= now), and
``ZRANGEBYSCORE -inf now`` returns urgent, then normal, then low, each oldest first.

Workers take jobs with take.lua instead of arq's own read path: arq leaves running jobs at the head
of its queue and re-checks each one on every poll (about 48 Redis round trips per message at
50 msg/s). take.lua moves a job to P:inflight in the same atomic step, scored by its lock
deadline (job_timeout_seconds + 10 s, like arq's in-progress key), so the ready queue holds only
ready jobs and a dead worker's jobs come back when their deadline passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Priority(StrEnum):
    URGENT = "urgent"
    NORMAL = "normal"
    LOW = "low"


PRIORITIES: Final[tuple[Priority, ...]] = tuple(Priority)

DEFAULT_PREFIX: Final = "{zapq}"
# A prefix is one hash tag: braces around a short name (Redis Cluster hashes what is inside).
PREFIX_PATTERN: Final = re.compile(r"\{[A-Za-z0-9_.-]{1,32}\}")

# arq's own key prefixes (arq.constants); repeated here so that no module outside service/queue and
# service/worker imports arq. tests/queue/test_arq_boundary.py checks they match the installed arq.
ARQ_JOB_PREFIX: Final = "arq:job:"
ARQ_RETRY_PREFIX: Final = "arq:retry:"

# A callback event waits at most this long for its next delivery attempt (workers down for a week
# lose their callbacks rather than keep them forever); service/queue/callbacks.py.
CALLBACK_TTL_MS: Final = 7 * 86_400_000

# A band is 10^13 ms wide: every unix-ms timestamp until the year 2286 fits inside one, so bands
# never overlap, and scores stay exact in a double (< 2^53).
BAND_MS: Final = 10**13
BAND: Final[dict[Priority, int]] = {
    Priority.URGENT: -3 * BAND_MS,
    Priority.NORMAL: -2 * BAND_MS,
    Priority.LOW: -1 * BAND_MS,
}

# The arq job key outlives its message's expiry by this much: a job popped after expiry still finds
# its payload, and the worker records the message as expired instead of arq silently dropping it.
JOB_EXTRA_TTL_MS: Final = 86_400_000


def band_range(priority: str) -> tuple[int, int]:
    """Score range ``[lo, hi)`` of one priority band in the ready queue."""
    lo = BAND[Priority(priority)]
    return lo, lo + BAND_MS


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names under one prefix. ``Keys()`` is the default prefix; every process of one
    installation must use the same prefix (several installations may share a Redis with their own).
    """

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not PREFIX_PATTERN.fullmatch(self.prefix):
            raise ValueError("a key prefix is one Redis hash tag such as {zapq}")

    # -- fixed keys (handed to the scripts in KEYS) ------------------------------------------------

    @property
    def queue(self) -> str:
        return f"{self.prefix}:queue"

    @property
    def scheduled(self) -> str:
        return f"{self.prefix}:scheduled"

    @property
    def retry(self) -> str:
        return f"{self.prefix}:retry"

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def inflight(self) -> str:
        return f"{self.prefix}:inflight"

    @property
    def senders(self) -> str:
        return f"{self.prefix}:senders"

    @property
    def senders_version(self) -> str:
        return f"{self.prefix}:senders:version"

    @property
    def wake(self) -> str:
        return f"{self.prefix}:wake"

    @property
    def promoter(self) -> str:
        """The promoter's lease: the worker that promotes for the whole installation."""
        return f"{self.prefix}:promoter"

    @property
    def promote_wake(self) -> str:
        return f"{self.prefix}:wake:promote"

    @property
    def suppressed(self) -> str:
        """The suppression list (opt-outs): phone -> when, in unix ms."""
        return f"{self.prefix}:suppressed"

    @property
    def suppressed_info(self) -> str:
        return f"{self.prefix}:suppressed:info"

    @property
    def callbacks_ready(self) -> str:
        return f"{self.prefix}:callbacks:ready"

    @property
    def callbacks_leased(self) -> str:
        return f"{self.prefix}:callbacks:leased"

    @property
    def callbacks_busy(self) -> str:
        return f"{self.prefix}:callbacks:busy"

    @property
    def callbacks_dead(self) -> str:
        return f"{self.prefix}:callbacks:dead"

    @property
    def callbacks_wake(self) -> str:
        return f"{self.prefix}:callbacks:wake"

    @property
    def health_check(self) -> str:
        return f"{self.queue}:health-check"

    @property
    def schedule_last_run(self) -> str:
        """The last `zapq schedule` run: last_run_at, last_success_at (unix s), last_failed,
        summary."""
        return f"{self.prefix}:schedule:last-run"

    # -- per-id keys (the scripts build these from the prefixes in their generated header) ---------

    def prefixes(self) -> dict[str, str]:
        """Name -> prefix of every per-id key: the one source of the scripts' header."""
        return {
            "MSG": f"{self.prefix}:msg:",
            "IDEM": f"{self.prefix}:idem:",
            "SENDER": f"{self.prefix}:sender:",
            "PARKED": f"{self.prefix}:parked:",
            "STICKY": f"{self.prefix}:sticky:",
            "PROVIDER": f"{self.prefix}:provider:",
            "CALLBACK": f"{self.prefix}:callback:",
            "CB_ENDPOINT": f"{self.prefix}:callbacks:endpoint:",
            "RECIPIENT": f"{self.prefix}:recipient:",
            "ARQ_JOB": ARQ_JOB_PREFIX,
            "ARQ_RETRY": ARQ_RETRY_PREFIX,
            "JOB": self.prefix,
        }

    def message(self, message_id: str) -> str:
        return f"{self.prefix}:msg:{message_id}"

    def idempotency(self, key_id: str, key_hash: str) -> str:
        return f"{self.prefix}:idem:{key_id}:{key_hash}"

    def sender(self, name: str) -> str:
        return f"{self.prefix}:sender:{name}"

    def sender_minute(self, name: str) -> str:
        return f"{self.prefix}:sender:{name}:minute"

    def parked(self, name: str) -> str:
        return f"{self.prefix}:parked:{name}"

    def sticky(self, phone: str) -> str:
        return f"{self.prefix}:sticky:{phone}"

    def provider(self, provider_id: str) -> str:
        return f"{self.prefix}:provider:{provider_id}"

    def callback(self, event_id: str) -> str:
        return f"{self.prefix}:callback:{event_id}"

    def recipient(self, phone: str) -> str:
        return f"{self.prefix}:recipient:{phone}"

    def quota_rate(self, tenant: str) -> str:
        return f"{self.prefix}:quota:{tenant}:rate"

    def quota_day(self, tenant: str, day: str) -> str:
        return f"{self.prefix}:quota:{tenant}:day:{day}"

    def job_id(self, message_id: str, generation: int) -> str:
        return f"{self.prefix}{message_id}.{generation}"

    def message_id_of(self, job_id: str) -> str:
        """The message a job belongs to: ``P<id>.<gen>`` -> ``<id>``."""
        return job_id.removeprefix(self.prefix).rsplit(".", 1)[0]

    def arq_job(self, job_id: str) -> str:
        return ARQ_JOB_PREFIX + job_id


DEFAULT: Final = Keys()
