"""The run's own figures as zapq_schedule_* gauges, pushed to a Pushgateway when one is configured.

They live in their own registry, not in service.metrics: a CronJob is never scraped, so these are
only ever pushed (PUT: each run replaces the previous run's group), and the api / worker /metrics
pages stay free of them. The missed-run alert does not need them: it reads the last-run gauges
the api and workers export from Redis (status.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

log = logging.getLogger("zapq.scheduler")

REGISTRY = CollectorRegistry(auto_describe=True)
RUN_CHARGES = Gauge(
    "zapq_schedule_run_charges",
    "Charges of the last run by outcome (found, invalid_records, skipped_paid_or_cancelled).",
    ["outcome"],
    registry=REGISTRY,
)
RUN_MESSAGES = Gauge(
    "zapq_schedule_run_messages",
    "Messages of the last run by rule and outcome (eligible, enqueued, deduped, ...).",
    ["rule", "outcome"],
    registry=REGISTRY,
)
RUN_DURATION = Gauge(
    "zapq_schedule_run_duration_seconds", "Wall time of the last run.", registry=REGISTRY
)
RUN_FAILED = Gauge("zapq_schedule_run_failed", "1 when the last run failed.", registry=REGISTRY)
RUN_FINISHED = Gauge(
    "zapq_schedule_run_finished_timestamp_seconds",
    "When the last run ended (unix s).",
    registry=REGISTRY,
)
_JOB = "zapq-schedule"
# A Pushgateway answers in milliseconds; a stuck one must not hold the CronJob.
_PUSH_TIMEOUT_SECONDS = 10.0


def record(summary: dict[str, Any], finished_at: float) -> None:
    RUN_CHARGES.clear()
    for outcome in ("found", "invalid_records", "skipped_paid_or_cancelled"):
        RUN_CHARGES.labels(outcome).set(summary[outcome])
    RUN_MESSAGES.clear()
    for rule, counts in summary["per_rule"].items():
        for outcome, value in counts.items():
            RUN_MESSAGES.labels(rule, outcome).set(value)
    RUN_DURATION.set(summary["duration_seconds"])
    RUN_FAILED.set(0 if summary["ok"] else 1)
    RUN_FINISHED.set(finished_at)


async def push(gateway_url: str) -> None:
    """Push the registry; a failure is logged, never fatal (Redis holds the result too)."""
    try:
        await asyncio.to_thread(
            push_to_gateway, gateway_url, job=_JOB, registry=REGISTRY, timeout=_PUSH_TIMEOUT_SECONDS
        )
    except OSError as exc:
        log.warning("pushgateway push failed", extra={"error": f"{type(exc).__name__}: {exc}"})
