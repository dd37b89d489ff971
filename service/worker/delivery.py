"""One attempt at one message: wait for the sender's slot, send, record. Plain functions; the arq
task calls them.

Order matters for exactly-once-after-record: take.lua claims only messages still to send (the
"already done" skip comes first), and only the job that holds the message records the outcome.
The one duplicate window left is a crash between Evolution's 201 and recording it (see the README).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass

from service import metrics
from service.evolution.client import EvolutionClient
from service.evolution.errors import EvolutionError
from service.evolution.schemas import SentMessage
from service.logging import mask_phone
from service.queue.models import Kind, Outcome, now_ms
from service.queue.store import Claim, Skip
from service.worker.context import WorkerDeps

log = logging.getLogger("zapq.worker")


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome  # failed | retry | dead | expired
    next_at_ms: int | None = None


class SenderGone(EvolutionError):
    """The sender left the pool between the take and the send: the pool routes the message anew."""

    error_class = "sender_unknown"
    blames_sender = True


def decide(
    error: EvolutionError,
    attempt: int,
    delays: list[float],
    jitter: float,
    now: int,
    expires_at: int,
) -> Decision:
    """What a failed attempt leads to. ``attempt`` is 1-based; retry n waits delays[n-1] seconds."""
    if not error.retryable:
        return Decision(Outcome.FAILED)
    if attempt > len(delays):
        return Decision(Outcome.DEAD)
    delay = delays[attempt - 1] * (1 + random.uniform(-jitter, jitter))
    next_at = now + int(delay * 1000)
    # No attempt could happen before expiry: end it now instead of holding it for nothing.
    if next_at >= expires_at:
        return Decision(Outcome.EXPIRED)
    return Decision(Outcome.RETRY, next_at)


def _fields(claim: Claim) -> dict[str, object]:
    return {
        "message_id": claim.message_id,
        "attempt": claim.attempt,
        "priority": str(claim.priority),
        "sender": claim.sender,
    }


async def deliver(deps: WorkerDeps, claim: Claim, delivery: int) -> Outcome | None:
    """Run one attempt of a claimed message: returns what was recorded, or None when nothing was
    (the message left the claim before its slot came: the job is handed back).

    ``delivery`` counts the runs of this job (arq's job_try): above 1 it is a redelivery.
    """
    fields = _fields(claim)
    if claim.redelivered:
        metrics.REDELIVERED.labels(claim.priority).inc()
        log.warning("redelivered: the previous holder died mid-attempt", extra=fields)
    if delivery > deps.settings.worker.max_deliveries:
        error = f"delivered {delivery} times without finishing (worker crashes or hangs)"
        await deps.queue.complete(claim, Outcome.DEAD, error=error, error_class="redelivery_limit")
        metrics.DEAD.labels(claim.priority, "redelivery_limit").inc()
        log.error("dead letter: redelivery limit", extra=fields)
        return Outcome.DEAD
    on_time = await _wait_for_slot(deps, claim)
    if on_time is None:
        log.warning("the message left this job while it waited for its slot", extra=fields)
        return None
    return await _send(deps, on_time, fields)


# Rebookings of one send before it goes anyway, late: a worker this starved sends as it can.
_MAX_REBOOKINGS = 5


async def _wait_for_slot(deps: WorkerDeps, claim: Claim) -> Claim | None:
    """Sleep until the sender's booked slot. Woken more than one send interval past it (a loaded
    event loop or host), the send could bunch with the sends booked after it and break the sender's
    rate: book its next slot instead (one extra round trip, only then). None: the message is no
    longer this claim's."""
    started = now_ms()
    for _ in range(_MAX_REBOOKINGS):
        wait = claim.send_at_ms - now_ms()
        if wait > 0:
            await asyncio.sleep(wait / 1000)
        if now_ms() - claim.send_at_ms <= claim.interval_ms:
            break
        metrics.REBOOKED.labels(claim.sender).inc()
        rebooked = await deps.queue.rebook(claim, deps.lock_seconds, deps.pool.day(claim.sender))
        if rebooked is None:
            return None
        claim = rebooked
    metrics.LIMITER_WAIT.labels(claim.sender).observe(max(now_ms() - started, 0) / 1000)
    return claim


def skipped(skip: Skip) -> str:
    """Count and log a job that had nothing to send (take.lua already ended it)."""
    if skip.reason == "expired" and skip.priority:
        metrics.EXPIRED.labels(skip.priority).inc()
        log.info("expired before sending", extra={"message_id": skip.message_id})
    elif skip.reason == "cancelled" and skip.priority:  # its recipient opted out (take.lua)
        metrics.OPTED_OUT_MESSAGES.labels("worker").inc()
        log.info("recipient opted out: cancelled", extra={"message_id": skip.message_id})
    else:
        log.debug("skipped", extra={"message_id": skip.message_id, "reason": skip.reason})
    return skip.reason


async def _call(client: EvolutionClient | None, claim: Claim, delay: int | None) -> SentMessage:
    if client is None:
        raise SenderGone(f"sender {claim.sender} left the pool")
    content = claim.content
    if content.kind is Kind.MEDIA and content.media is not None:
        media = content.media
        return await client.send_media(
            claim.to,
            str(media.mediatype),
            media.media,
            mimetype=media.mimetype,
            file_name=media.file_name,
            caption=content.text or None,
            delay_ms=delay,
        )
    return await client.send_text(claim.to, content.text, delay_ms=delay)


async def _send(deps: WorkerDeps, claim: Claim, fields: dict[str, object]) -> Outcome:
    dispatched = now_ms()
    started = time.perf_counter()
    delay = deps.settings.evolution.typing_delay_ms or None
    try:
        sent = await _call(deps.pool.client(claim.sender), claim, delay)
    except EvolutionError as error:
        _observe(error.error_class, started)
        return await _failed(deps, claim, error, dispatched, fields)
    _observe("sent", started)
    await deps.queue.complete(
        claim,
        Outcome.SENT,
        provider_id=sent.provider_id,
        remote_jid=sent.remote_jid,
        dispatched_at=dispatched,
    )
    metrics.SENT.labels(claim.priority, claim.content.kind).inc()
    metrics.SENDER_SENT.labels(claim.sender).inc()
    metrics.ENQUEUE_TO_SENT.labels(claim.priority).observe((now_ms() - claim.ready_at_ms) / 1000)
    log.info("sent", extra={**fields, "provider_id": sent.provider_id, "to": mask_phone(claim.to)})
    return Outcome.SENT


def _observe(outcome: str, started: float) -> None:
    metrics.EVOLUTION_REQUESTS.labels(outcome).inc()
    metrics.EVOLUTION_DURATION.labels(metrics.duration_outcome(outcome)).observe(
        time.perf_counter() - started
    )


async def _failed(
    deps: WorkerDeps,
    claim: Claim,
    error: EvolutionError,
    dispatched: int,
    fields: dict[str, object],
) -> Outcome:
    worker = deps.settings.worker
    now = now_ms()
    decision = decide(
        error,
        claim.attempt,
        worker.retry_delays_seconds,
        worker.retry_jitter_ratio,
        now,
        claim.expires_at_ms,
    )
    completed = await deps.queue.complete(
        claim,
        decision.outcome,
        error=error.message,
        error_class=error.error_class,
        next_at=decision.next_at_ms,
        dispatched_at=dispatched,
        sender_fault=error.blames_sender,
        sender_answered=error.about_recipient,
    )
    outcome = completed.outcome or decision.outcome
    _count(claim, error, outcome)
    level = logging.ERROR if error.alarming or outcome is Outcome.DEAD else logging.WARNING
    log.log(
        level,
        f"send failed: {outcome}",
        extra={
            **fields,
            "error_class": error.error_class,
            "status_code": error.status_code,
            "error": error.message,
            "to": mask_phone(claim.to),
            "breaker": completed.breaker,
        },
    )
    return outcome


def _count(claim: Claim, error: EvolutionError, outcome: Outcome) -> None:
    if error.blames_sender:
        metrics.SENDER_REFUSALS.labels(claim.sender, error.error_class).inc()
    labels = (claim.priority, error.error_class)
    if outcome is Outcome.REROUTED:
        metrics.REROUTED.labels(error.error_class).inc()
    elif outcome is Outcome.FAILED:
        metrics.FAILED.labels(*labels).inc()
    elif outcome is Outcome.RETRY:
        metrics.RETRIED.labels(*labels).inc()
    elif outcome is Outcome.DEAD:
        metrics.DEAD.labels(*labels).inc()
    else:
        metrics.EXPIRED.labels(claim.priority).inc()
