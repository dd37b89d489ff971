"""One attempt at one message: claim, rate-limit, send, record. Plain functions; the arq task
calls them.

Order matters for exactly-once-after-record: the claim refuses messages already finished (the
"already done" skip comes first), and only the job that holds the message records the outcome.
The one duplicate window left is a crash between Evolution's 201 and recording it (see the README).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

from service import metrics
from service.evolution.errors import EvolutionError
from service.logging import mask_phone
from service.queue.models import now_ms
from service.queue.store import Claim, Skip
from service.worker.context import WorkerDeps

log = logging.getLogger("zapq.worker")


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str  # failed | retry | dead | expired
    next_at_ms: int | None = None


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
        return Decision("failed")
    if attempt > len(delays):
        return Decision("dead")
    delay = delays[attempt - 1] * (1 + random.uniform(-jitter, jitter))
    next_at = now + int(delay * 1000)
    # No attempt could happen before expiry: end it now instead of holding it for nothing.
    if next_at >= expires_at:
        return Decision("expired")
    return Decision("retry", next_at)


async def deliver(deps: WorkerDeps, claimed: Claim | Skip, job_id: str, delivery: int) -> str:
    """Run one attempt of a claimed message.

    Returns sent, failed, retry, dead, expired, or the skip reason when there was nothing to send.
    ``delivery`` counts the runs of this job (arq's job_try): above 1 it is a redelivery.
    """
    if isinstance(claimed, Skip):
        return skipped(claimed, job_id)
    message_id = claimed.message_id
    fields = {"message_id": message_id, "attempt": claimed.attempt, "priority": claimed.priority}
    if claimed.redelivered:
        metrics.REDELIVERED.labels(claimed.priority).inc()
        log.warning("redelivered: the previous holder died mid-attempt", extra=fields)
    if delivery > deps.settings.worker.max_deliveries:
        error = f"delivered {delivery} times without finishing (worker crashes or hangs)"
        await deps.queue.complete(
            claimed, job_id, "dead", error=error, error_class="redelivery_limit"
        )
        metrics.DEAD.labels(claimed.priority, "redelivery_limit").inc()
        log.error("dead letter: redelivery limit", extra=fields)
        return "dead"
    metrics.LIMITER_WAIT.observe(await deps.limiter.acquire())
    return await _send(deps, claimed, job_id, fields)


def skipped(skip: Skip, job_id: str) -> str:
    """Count and log a job that had nothing to send (its script already ended it)."""
    message_id = job_id.rsplit(".", 1)[0]
    if skip.reason == "expired" and skip.priority:
        metrics.EXPIRED.labels(skip.priority).inc()
        log.info("expired before sending", extra={"message_id": message_id})
    else:
        log.debug("skipped", extra={"message_id": message_id, "reason": skip.reason})
    return skip.reason


async def _send(deps: WorkerDeps, claimed: Claim, job_id: str, fields: dict[str, object]) -> str:
    dispatched = now_ms()
    started = time.perf_counter()
    delay = deps.settings.evolution.typing_delay_ms or None
    try:
        sent = await deps.evolution.send_text(claimed.to, claimed.text, delay_ms=delay)
    except EvolutionError as error:
        _observe(error.error_class, started)
        return await _failed(deps, claimed, job_id, error, dispatched, fields)
    _observe("sent", started)
    await deps.queue.complete(
        claimed,
        job_id,
        "sent",
        provider_id=sent.provider_id,
        remote_jid=sent.remote_jid,
        dispatched_at=dispatched,
    )
    metrics.SENT.labels(claimed.priority).inc()
    metrics.ENQUEUE_TO_SENT.labels(claimed.priority).observe(
        (now_ms() - claimed.ready_at_ms) / 1000
    )
    log.info(
        "sent", extra={**fields, "provider_id": sent.provider_id, "to": mask_phone(claimed.to)}
    )
    return "sent"


def _observe(outcome: str, started: float) -> None:
    metrics.EVOLUTION_REQUESTS.labels(outcome).inc()
    metrics.EVOLUTION_DURATION.labels(metrics.duration_outcome(outcome)).observe(
        time.perf_counter() - started
    )


async def _failed(
    deps: WorkerDeps,
    claimed: Claim,
    job_id: str,
    error: EvolutionError,
    dispatched: int,
    fields: dict[str, object],
) -> str:
    worker = deps.settings.worker
    now = now_ms()
    decision = decide(
        error,
        claimed.attempt,
        worker.retry_delays_seconds,
        worker.retry_jitter_ratio,
        now,
        claimed.expires_at_ms,
    )
    await deps.queue.complete(
        claimed,
        job_id,
        decision.outcome,
        error=error.message,
        error_class=error.error_class,
        next_at=decision.next_at_ms,
        dispatched_at=dispatched,
    )
    labels = (claimed.priority, error.error_class)
    counter = {"failed": metrics.FAILED, "retry": metrics.RETRIED, "dead": metrics.DEAD}
    if decision.outcome in counter:
        counter[decision.outcome].labels(*labels).inc()
    else:
        metrics.EXPIRED.labels(claimed.priority).inc()
    level = logging.ERROR if error.alarming or decision.outcome == "dead" else logging.WARNING
    log.log(
        level,
        f"send failed: {decision.outcome}",
        extra={
            **fields,
            "error_class": error.error_class,
            "status_code": error.status_code,
            "error": error.message,
            "to": mask_phone(claimed.to),
        },
    )
    return decision.outcome
