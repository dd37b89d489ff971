"""MessageQueue: every read and state change of messages, over Redis and the arq job format.

The API, the scheduler and the workers all go through this class; none of them touches the keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from service.queue.keys import BAND, PRIORITIES, Keys, Priority, band_range
from service.queue.models import (
    Content,
    EnqueueResult,
    MessageRecord,
    NewMessage,
    Outcome,
    QueueStats,
    Status,
    new_message_ids,
    now_ms,
)
from service.queue.scripts import Scripts
from service.settings import Settings

# Dead letters are requeued in chunks so that one request never blocks Redis for long.
_REQUEUE_CHUNK = 500
# Dead letters whose class is read per round trip when filtering: 1,000 HGETs are ~1 ms of Redis.
_DEAD_CHUNK = 1000
# take.lua reads this many ready jobs per job it may take: room to pass over messages that wait for
# their own sender (pinned, or sticky to a busy one) without taking nothing.
_SCAN_FACTOR = 4


@dataclass(frozen=True, slots=True)
class Claim:
    """A message a worker now holds (status "sending"), routed to ``sender`` at ``send_at_ms``."""

    job_id: str
    score: int
    message_id: str
    to: str
    priority: Priority
    attempt: int
    ready_at_ms: int
    expires_at_ms: int
    #: True when the previous holder died or hung mid-attempt (status was already "sending").
    redelivered: bool
    sender: str
    #: The sender's booked slot (unix ms): the send goes then, not before, and not more than
    #: ``interval_ms`` after (a later send books again: MessageQueue.rebook).
    send_at_ms: int
    #: 1000 / the sender's rate: the spacing of its slots (ms).
    interval_ms: float
    content: Content


@dataclass(frozen=True, slots=True)
class Skip:
    """A job take.lua ended without sending: reason missing | stale | expired | a final status."""

    job_id: str
    message_id: str
    reason: str
    priority: str | None = None


@dataclass(frozen=True, slots=True)
class Taken:
    claims: list[Claim]
    skipped: list[Skip]
    #: The registry's version: a worker reloads its view of the senders when it changes.
    senders_version: int
    #: True when nothing was ready at all (the worker may sleep until woken).
    empty: bool
    #: When no sender could take anything: when one may again (unix ms), if a time says so.
    retry_at_ms: int | None


@dataclass(frozen=True, slots=True)
class Completed:
    #: False when the message no longer belonged to the job (a duplicate delivery finished it).
    recorded: bool
    outcome: Outcome | None
    #: The sender's breaker after a sender fault that rerouted the message.
    breaker: str | None = None


@dataclass(frozen=True, slots=True)
class _New:
    """What enqueue decides for a new message before the script writes it."""

    id: str
    status: Status
    due_ms: int
    expires_at_ms: int
    callback_url: str | None
    content: Content


@dataclass(frozen=True, slots=True)
class Promoted:
    #: False: another worker holds the promoter's lease; this call did nothing.
    leader: bool
    moved: int
    #: When the promoter has work next (unix ms), if anything waits.
    next_at_ms: int | None = None


def _list(value: Any) -> list[Any]:
    """cjson encodes an empty Lua table as ``{}``: an empty list here."""
    return value if isinstance(value, list) else []


class MessageQueue:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.redis_key_prefix)
        self.scripts = Scripts(redis, self.keys)
        messages = settings.messages
        self._retention_ms = messages.retention_seconds * 1000
        self._dead_retention_ms = messages.dead_letter_retention_seconds * 1000
        self._validity_ms = messages.default_validity_seconds * 1000
        # How long past its expiry a record may live: retention, or dead-letter retention after
        # a death (the recipient index of erasure lives this long).
        self._keep_ms = self._retention_ms + self._dead_retention_ms
        #: What the scripts route and decide with (settings.pool), handed to them as JSON.
        self.routing = orjson.dumps(settings.pool.script_config())

    # -- producers ------------------------------------------------------------------------------

    async def enqueue(
        self,
        messages: Sequence[NewMessage],
        key_id: str,
        *,
        at_ms: int | None = None,
        idempotency_ttl_ms: int | None = None,
        records: bool = True,
    ) -> list[EnqueueResult]:
        """Enqueue many messages in one atomic round trip; ``key_id`` is the tenant (the API key's
        name) that owns them: idempotency keys are per tenant.

        New idempotency keys live ``idempotency_ttl_ms`` (default: api.idempotency_ttl_seconds);
        the scheduler passes its own, longer, so that its dedupe window covers its send windows.
        A new message's result carries its record as written (``records``; a batch, which answers
        with ids only, skips building them), so callers need no read-back.
        """
        if not messages:
            return []
        now = at_ms if at_ms is not None else now_ms()
        ids = new_message_ids(len(messages), now)
        new = [
            self._new(message, now, key_id, id_) for message, id_ in zip(messages, ids, strict=True)
        ]
        args: list[Any] = [
            now,
            self._retention_ms,
            idempotency_ttl_ms or self.settings.api.idempotency_ttl_seconds * 1000,
            key_id,
            self._keep_ms,
        ]
        for message, fresh in zip(messages, new, strict=True):
            args += [self._envelope(message, fresh, key_id), fresh.content.encode()]
        result = await self.scripts.enqueue(args)
        # An earlier message's id (duplicates, conflicts) by the 1-based index of the message.
        earlier: dict[str, str] = result["earlier"] or {}
        return [
            EnqueueResult(
                outcome,
                earlier.get(str(index), fresh.id),
                self._record(message, fresh, now, key_id) if records and outcome == "new" else None,
            )
            for index, (outcome, message, fresh) in enumerate(
                zip(_list(result["outcomes"]), messages, new, strict=True), start=1
            )
        ]

    def _new(self, message: NewMessage, now: int, key_id: str, id_: str) -> _New:
        scheduled = message.send_at_ms is not None and message.send_at_ms > now
        due: int = message.send_at_ms if scheduled else now  # type: ignore[assignment]
        return _New(
            id=id_,
            status=Status.SCHEDULED if scheduled else Status.QUEUED,
            due_ms=due,
            expires_at_ms=message.expires_at_ms or due + self._validity_ms,
            # Resolved now, from the request or the API key's default endpoint (settings).
            callback_url=message.callback_url or self.settings.callbacks.url_for(key_id) or None,
            content=message.content,
        )

    @staticmethod
    def _record(message: NewMessage, new: _New, now: int, key_id: str) -> MessageRecord:
        return MessageRecord(
            id=new.id,
            to=message.to,
            priority=message.priority,
            status=new.status,
            attempts=0,
            created_at_ms=now,
            expires_at_ms=new.expires_at_ms,
            ready_at_ms=new.due_ms,
            send_at_ms=message.send_at_ms,
            next_attempt_at_ms=None,
            provider_id=None,
            remote_jid=None,
            last_error=None,
            error_class=None,
            content=new.content,
            pinned_sender=message.sender,
            history=[{"status": str(new.status), "at_ms": now}],
            callback_url=new.callback_url,
            key_id=key_id,
        )

    def _envelope(self, message: NewMessage, record: _New, key_id: str) -> bytes:
        """What enqueue.lua decides on for one message: only the fields that are set."""
        envelope: dict[str, Any] = {
            "id": record.id,
            "to": message.to,
            "priority": message.priority,
            "expires_at": record.expires_at_ms,
        }
        if message.send_at_ms is not None:
            envelope["send_at"] = message.send_at_ms
        if message.idempotency_key is not None:
            digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()
            envelope["idem"] = self.keys.idempotency(key_id, digest)
            # Compared with the earlier request of the same idempotency key.
            envelope["fp"] = message.fingerprint()
        if message.sender:
            envelope["pin"] = message.sender
        if record.callback_url:
            envelope["callback_url"] = record.callback_url
        if self.settings.api.drop_text_when_final:
            envelope["lean"] = self._lean(record.content)
        return orjson.dumps(envelope)

    @staticmethod
    def _lean(content: Content) -> str:
        """The payload once final under api.drop_text_when_final: without text and media."""
        return dataclasses.replace(content, text="", media=None).encode().decode()

    # -- reads ----------------------------------------------------------------------------------

    async def get(self, message_id: str) -> MessageRecord | None:
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.message(message_id))  # type: ignore[misc]
        return MessageRecord.from_hash(raw) if raw else None

    async def get_many(self, message_ids: Sequence[str]) -> list[MessageRecord | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.hgetall(self.keys.message(message_id))
            rows = await pipe.execute()
        return [MessageRecord.from_hash(raw) if raw else None for raw in rows]

    async def stats(self) -> QueueStats:
        """Depths and ages in one pipelined round trip (no scans)."""
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            for priority in PRIORITIES:
                lo, hi = band_range(priority)
                pipe.zcount(keys.queue, lo, f"({hi}")
                pipe.zrangebyscore(keys.queue, lo, f"({hi}", start=0, num=1, withscores=True)
            for name in (keys.inflight, keys.scheduled, keys.retry, keys.dead):
                pipe.zcard(name)
            rows = await pipe.execute()
        now = now_ms()
        ready: dict[str, int] = {}
        oldest: dict[str, float] = {}
        for index, priority in enumerate(PRIORITIES):
            count, head = rows[2 * index : 2 * index + 2]
            ready[str(priority)] = count
            age = max(now - (head[0][1] - BAND[priority]), 0) / 1000 if head else 0.0
            oldest[str(priority)] = age
        in_flight, scheduled, retrying, dead = rows[-4:]
        return QueueStats(ready, oldest, in_flight, scheduled, retrying, dead)

    async def dead_letters(
        self, *, offset: int = 0, limit: int = 100, error_class: str | None = None
    ) -> tuple[int, list[MessageRecord]]:
        """Newest first: (how many dead letters match, the page ``offset``..``offset + limit``).
        Unfiltered: two commands. With ``error_class``: the page is of the matching ones, which
        costs reading every dead letter's class (a round trip per _DEAD_CHUNK)."""
        if error_class is None:
            total = await self.redis.zcard(self.keys.dead)
            page = await self.redis.zrevrange(self.keys.dead, offset, offset + limit - 1)
            ids = [raw.decode() for raw in page]
        else:
            matching = await self._dead_of_class(error_class, newest_first=True)
            total, ids = len(matching), matching[offset : offset + limit]
        records = [record for record in await self.get_many(ids) if record is not None]
        return total, records

    async def _dead_of_class(self, error_class: str | None, *, newest_first: bool) -> list[str]:
        """The ids of the dead letters whose last error is of ``error_class`` (all if None)."""
        read = self.redis.zrevrange if newest_first else self.redis.zrange
        ids = [raw.decode() for raw in await read(self.keys.dead, 0, -1)]
        if error_class is None:
            return ids
        matching: list[str] = []
        for start in range(0, len(ids), _DEAD_CHUNK):
            chunk = ids[start : start + _DEAD_CHUNK]
            async with self.redis.pipeline(transaction=False) as pipe:
                for message_id in chunk:
                    pipe.hget(self.keys.message(message_id), "error_class")
                classes = await pipe.execute()
            wanted = error_class.encode()
            matching += [mid for mid, cls in zip(chunk, classes, strict=True) if cls == wanted]
        return matching

    # -- operator actions -----------------------------------------------------------------------

    async def cancel(self, message_id: str) -> tuple[str, str | None]:
        """Returns ("cancelled", None), ("conflict", current status) or ("missing", None)."""
        result = await self.scripts.cancel(
            [message_id, now_ms(), self._retention_ms], message=self.keys.message(message_id)
        )
        return result["outcome"], result.get("status")

    async def requeue(
        self, message_ids: Sequence[str], *, expires_at_ms: int | None = None
    ) -> list[str]:
        """Requeue dead letters with attempts reset and a fresh validity window."""
        now = now_ms()
        expires = expires_at_ms or now + self._validity_ms
        requeued: list[str] = []
        for start in range(0, len(message_ids), _REQUEUE_CHUNK):
            chunk = list(message_ids[start : start + _REQUEUE_CHUNK])
            result = await self.scripts.requeue([now, expires, self._retention_ms, *chunk])
            requeued += _list(result["requeued"])
        return requeued

    async def requeue_all(self, *, error_class: str | None = None) -> list[str]:
        """Requeue every dead letter, or those whose last error is of ``error_class``."""
        return await self.requeue(await self._dead_of_class(error_class, newest_first=False))

    # -- workers --------------------------------------------------------------------------------

    async def take(
        self, count: int, lock_seconds: float, worker: str, pool: Sequence[tuple[str, str]]
    ) -> Taken:
        """Take up to ``count`` ready jobs, highest priority first, route each to a sender of
        ``pool`` ((name, its local date today), ...), book the sender's slot and claim the
        message: one atomic round trip."""
        args: list[Any] = [
            count,
            now_ms(),
            int(lock_seconds * 1000),
            worker,
            self._retention_ms,
            self.routing,
            orjson.dumps(pool),
        ]
        result = await self.scripts.take(args)
        return Taken(
            claims=[self._claim(row) for row in _list(result["jobs"])],
            skipped=[
                Skip(row["job"], row["id"], row["reason"], row.get("priority"))
                for row in _list(result["skipped"])
            ],
            senders_version=int(result["version"]),
            empty=bool(result.get("empty")),
            retry_at_ms=int(result["retry_at"]) if result.get("retry_at") else None,
        )

    @staticmethod
    def _claim(row: dict[str, Any]) -> Claim:
        return Claim(
            job_id=row["job"],
            score=int(row["score"]),
            message_id=row["id"],
            to=row["to"],
            priority=Priority(row["priority"]),
            attempt=int(row["attempts"]),
            ready_at_ms=int(row["ready_at"]),
            expires_at_ms=int(row["expires_at"]),
            redelivered=bool(row["redelivered"]),
            sender=row["sender"],
            send_at_ms=int(row["send_at"]),
            interval_ms=float(row["interval"]),
            content=Content.decode(row["payload"]),
        )

    async def complete(self, claim: Claim, outcome: Outcome, **fields: Any) -> Completed:
        """Record an attempt's outcome: sent | failed | retry | dead | expired. With
        ``sender_fault=True`` the script may reroute the message instead (see complete.lua)."""
        args: list[Any] = [
            claim.message_id,
            claim.job_id,
            now_ms(),
            str(outcome),
            orjson.dumps(fields),
            self._retention_ms,
            self._dead_retention_ms,
            self.routing,
        ]
        result = await self.scripts.complete(args, message=self.keys.message(claim.message_id))
        if not result["recorded"]:
            return Completed(False, None)
        return Completed(True, Outcome(result["outcome"]), result.get("breaker"))

    async def rebook(self, claim: Claim, lock_seconds: float, day: str) -> Claim | None:
        """Book the sender's next slot for a claim whose slot went by (the worker woke late);
        None when the message is no longer the claim's or its sender left the pool."""
        args: list[Any] = [claim.job_id, now_ms(), int(lock_seconds * 1000), day, self.routing]
        result = await self.scripts.rebook(args, message=self.keys.message(claim.message_id))
        if result.get("lost"):
            return None
        return dataclasses.replace(
            claim, send_at_ms=int(result["send_at"]), interval_ms=float(result["interval"])
        )

    async def finish_job(self, job_id: str, *, requeue: bool) -> bool:
        """arq is done with a job: delete it, or (an interrupted run) put it back in the queue.
        Returns True when it went back."""
        result = await self.scripts.finish([job_id, int(requeue)])
        return bool(result["requeued"])

    async def promote_due(
        self,
        pool: Sequence[tuple[str, str]] = (),
        limit: int = 1000,
        *,
        worker: str = "",
        lease_seconds: float = 10.0,
    ) -> Promoted:
        """As the installation's promoter (a lease ``worker`` holds or takes), move due scheduled
        messages, retries, lost jobs and unparked jobs to the ready queue."""
        args: list[Any] = [
            now_ms(),
            limit,
            self.routing,
            orjson.dumps(list(pool)),
            worker,
            int(lease_seconds * 1000),
        ]
        result = await self.scripts.promote(args)
        next_at = result.get("next_at")
        return Promoted(
            bool(result["leader"]),
            int(result["moved"]),
            int(next_at) if next_at is not None else None,
        )
