"""MessageQueue: every read and state change of messages, over Redis and the arq job format.

The API, the scheduler and the workers all go through this class; none of them touches the keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from service.queue import keys
from service.queue.models import (
    EnqueueResult,
    MessageRecord,
    NewMessage,
    QueueStats,
    Status,
    new_message_id,
    now_ms,
)
from service.queue.scripts import register
from service.settings import Settings

# Dead letters are requeued in chunks so that one request never blocks Redis for long.
_REQUEUE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Claim:
    """A message a worker now holds (status "sending")."""

    message_id: str
    to: str
    text: str
    priority: str
    attempt: int
    ready_at_ms: int
    expires_at_ms: int
    #: True when the previous holder died or hung mid-attempt (status was already "sending").
    redelivered: bool


@dataclass(frozen=True, slots=True)
class Skip:
    """The job has nothing to do: reason is missing | stale | expired | a final status."""

    reason: str
    priority: str | None = None
    ready_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Taken:
    job_id: str
    score: int
    claim: Claim | Skip


def _claim_result(job_id: str, row: list[Any]) -> Claim | Skip:
    message_id = job_id.rsplit(".", 1)[0]
    if row[0] == b"skip":
        priority = row[2].decode() if len(row) > 2 else None
        return Skip(row[1].decode(), priority, int(row[3]) if len(row) > 3 else None)
    _, to, text, priority, attempt, ready_at, expires_at, _created, previous = row
    return Claim(
        message_id=message_id,
        to=to.decode(),
        text=text.decode(),
        priority=priority.decode(),
        attempt=int(attempt),
        ready_at_ms=int(ready_at),
        expires_at_ms=int(expires_at),
        redelivered=previous == b"sending",
    )


def api_key_id(api_key: str) -> str:
    """A short, stable, non-reversible id of an API key: the namespace of its idempotency keys."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


class MessageQueue:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.scripts = register(redis)
        messages = settings.messages
        self._retention_ms = messages.retention_seconds * 1000
        self._dead_retention_ms = messages.dead_letter_retention_seconds * 1000
        self._validity_ms = messages.default_validity_seconds * 1000

    # -- producers ------------------------------------------------------------------------------

    async def enqueue(
        self,
        messages: Sequence[NewMessage],
        key_id: str,
        *,
        at_ms: int | None = None,
        idempotency_ttl_ms: int | None = None,
    ) -> list[EnqueueResult]:
        """Enqueue many messages in one atomic round trip; idempotency keys are per ``key_id``.

        New idempotency keys live ``idempotency_ttl_ms`` (default: api.idempotency_ttl_seconds);
        the scheduler passes its own, longer, so that its dedupe window covers its send windows.
        A new message's result carries its record as written, so callers need no read-back.
        """
        if not messages:
            return []
        now = at_ms if at_ms is not None else now_ms()
        records = [self._record(message, key_id, now) for message in messages]
        args: list[Any] = [
            now,
            self._retention_ms,
            idempotency_ttl_ms or self.settings.api.idempotency_ttl_seconds * 1000,
            keys.JOB_EXTRA_TTL_MS,
        ]
        args += [
            self._encode(message, record, key_id)
            for message, record in zip(messages, records, strict=True)
        ]
        rows = await self.scripts.enqueue(args=args)
        results = []
        for row, record in zip(rows, records, strict=True):
            outcome, message_id = row[0].decode(), row[1].decode()
            results.append(EnqueueResult(outcome, message_id, record if outcome == "new" else None))
        return results

    def _record(self, message: NewMessage, key_id: str, now: int) -> MessageRecord:
        scheduled = message.send_at_ms is not None and message.send_at_ms > now
        due = message.send_at_ms if scheduled else now
        status: Status = "scheduled" if scheduled else "queued"
        return MessageRecord(
            id=new_message_id(now),
            to=message.to,
            priority=message.priority,
            status=status,
            attempts=0,
            created_at_ms=now,
            expires_at_ms=message.expires_at_ms or due + self._validity_ms,  # type: ignore[operator]
            ready_at_ms=due,
            send_at_ms=message.send_at_ms,
            next_attempt_at_ms=None,
            provider_id=None,
            remote_jid=None,
            last_error=None,
            error_class=None,
            idempotency_key=message.idempotency_key,
            source=message.source,
            metadata=message.metadata,
            history=[{"status": status, "at_ms": now}],
        )

    @staticmethod
    def _encode(message: NewMessage, record: MessageRecord, key_id: str) -> bytes:
        idem = ""
        if message.idempotency_key is not None:
            digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()
            idem = keys.idempotency(key_id, digest)
        return orjson.dumps(
            {
                "id": record.id,
                "to": message.to,
                "text": message.text,
                "priority": message.priority,
                "send_at": message.send_at_ms,
                "expires_at": record.expires_at_ms,
                "idem": idem,
                "fp": message.fingerprint(),
                "metadata": orjson.dumps(message.metadata).decode() if message.metadata else "",
                "key_id": key_id,
                "idempotency_key": message.idempotency_key or "",
                "source": message.source,
            }
        )

    # -- reads ----------------------------------------------------------------------------------

    async def get(self, message_id: str) -> MessageRecord | None:
        raw: dict[bytes, bytes] = await self.redis.hgetall(keys.message(message_id))  # type: ignore[misc]
        return MessageRecord.from_hash(raw) if raw else None

    async def get_many(self, message_ids: Sequence[str]) -> list[MessageRecord | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.hgetall(keys.message(message_id))
            rows = await pipe.execute()
        return [MessageRecord.from_hash(raw) if raw else None for raw in rows]

    async def stats(self) -> QueueStats:
        """Depths and ages in one pipelined round trip (no scans)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for priority in keys.PRIORITIES:
                lo, hi = keys.band_range(priority)
                pipe.zcount(keys.QUEUE, lo, f"({hi}")
                pipe.zrangebyscore(keys.QUEUE, lo, f"({hi}", start=0, num=1, withscores=True)
            for name in (keys.INFLIGHT, keys.SCHEDULED, keys.RETRY, keys.DEAD):
                pipe.zcard(name)
            rows = await pipe.execute()
        now = now_ms()
        ready: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for index, priority in enumerate(keys.PRIORITIES):
            count, head = rows[2 * index : 2 * index + 2]
            ready[priority] = count
            oldest[priority] = (
                max(now - (head[0][1] - keys.BAND[priority]), 0) / 1000 if head else 0.0
            )
        in_flight, scheduled, retrying, dead = rows[-4:]
        return QueueStats(ready, oldest, in_flight, scheduled, retrying, dead)

    async def dead_letters(
        self, *, offset: int = 0, limit: int = 100, error_class: str | None = None
    ) -> tuple[int, list[MessageRecord]]:
        """Newest first. Returns (total dead letters, the page)."""
        total = await self.redis.zcard(keys.DEAD)
        ids = [
            raw.decode()
            for raw in await self.redis.zrevrange(keys.DEAD, offset, offset + limit - 1)
        ]
        records = [record for record in await self.get_many(ids) if record is not None]
        if error_class is not None:
            records = [record for record in records if record.error_class == error_class]
        return total, records

    # -- operator actions -----------------------------------------------------------------------

    async def cancel(self, message_id: str) -> tuple[str, str | None]:
        """Returns ("cancelled", None), ("conflict", current status) or ("missing", None)."""
        row = await self.scripts.cancel(args=[message_id, now_ms(), self._retention_ms])
        return row[0].decode(), row[1].decode() if len(row) > 1 else None

    async def requeue(
        self, message_ids: Sequence[str], *, expires_at_ms: int | None = None
    ) -> list[str]:
        """Requeue dead letters with attempts reset and a fresh validity window."""
        now = now_ms()
        expires = expires_at_ms or now + self._validity_ms
        requeued: list[str] = []
        for start in range(0, len(message_ids), _REQUEUE_CHUNK):
            chunk = list(message_ids[start : start + _REQUEUE_CHUNK])
            args: list[Any] = [now, expires, self._retention_ms, keys.JOB_EXTRA_TTL_MS, *chunk]
            requeued += [raw.decode() for raw in await self.scripts.requeue(args=args)]
        return requeued

    async def requeue_all(self, *, error_class: str | None = None) -> list[str]:
        """Requeue every dead letter, or those whose last error is of ``error_class``."""
        ids = [raw.decode() for raw in await self.redis.zrange(keys.DEAD, 0, -1)]
        if error_class is not None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message_id in ids:
                    pipe.hget(keys.message(message_id), "error_class")
                classes = await pipe.execute()
            ids = [
                mid for mid, cls in zip(ids, classes, strict=True) if cls == error_class.encode()
            ]
        return await self.requeue(ids)

    # -- workers --------------------------------------------------------------------------------

    async def claim(self, job_id: str, worker: str) -> Claim | Skip:
        """Claim one job's message (a job taken some other way than take())."""
        row = await self.scripts.claim(args=[job_id, now_ms(), worker, self._retention_ms])
        return _claim_result(job_id, row)

    async def complete(self, claim: Claim, job_id: str, outcome: str, **fields: Any) -> bool:
        """Record an attempt's outcome: sent | failed | retry | dead | expired."""
        args: list[Any] = [
            claim.message_id,
            job_id,
            now_ms(),
            outcome,
            orjson.dumps(fields),
            self._retention_ms,
            self._dead_retention_ms,
        ]
        return bool(await self.scripts.complete(args=args))

    async def take(self, count: int, lock_seconds: float, worker: str) -> list[Taken]:
        """Take up to ``count`` ready jobs, highest priority first, and claim their messages."""
        args: list[Any] = [count, now_ms(), int(lock_seconds * 1000), worker, self._retention_ms]
        taken = []
        for raw_job, score, row in await self.scripts.take(args=args):
            job_id = raw_job.decode()
            taken.append(Taken(job_id, int(float(score)), _claim_result(job_id, row)))
        return taken

    async def finish_job(self, job_id: str, *, requeue: bool) -> None:
        """arq is done with a job: delete it, or (an interrupted run) put it back in the queue."""
        await self.scripts.finish(args=[job_id, int(requeue)])

    async def promote_due(self, limit: int = 1000) -> int:
        """Move due scheduled messages and retries to the ready queue; returns how many moved."""
        return int(await self.scripts.promote(args=[now_ms(), limit, keys.JOB_EXTRA_TTL_MS]))
