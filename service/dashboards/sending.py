"""zapq / Sending: how Evolution answers, why sends fail, what is retried, limited or dead, and the
sender pool: the pool as a whole, then one row per sender (repeated over $sender)."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from service.dashboards.panels import (
    COUNT,
    MSG_PER_SECOND,
    RATIO,
    REQ_PER_SECOND,
    SECONDS,
    WORKERS,
    PanelBuilder,
    breakdown,
    dashboard,
    graph,
    quantiles,
    query,
    rate,
    sender_variable,
    shared,
)
from service.dashboards.pool import pool_panels, sender_panels, sender_row

SENT_REQUESTS = rate("zapq_evolution_requests_total", matchers='outcome="sent"')
ALL_REQUESTS = rate("zapq_evolution_requests_total")


def build() -> Dashboard:
    return dashboard(
        "zapq-sending",
        "zapq / Sending",
        "Evolution API requests, outcome classes, retries, dead letters, worker slots, and the "
        "sender pool: each sender's sends against its rate, refusals, breaker, limiter wait and "
        "daily limit.",
        [
            ("Evolution API", _evolution()),
            ("Failures", _failures()),
            ("Workers", _workers()),
            ("Sender pool", pool_panels()),
            (sender_row(), sender_panels()),
        ],
        extra_variables=[sender_variable()],
    )


def _evolution() -> list[PanelBuilder]:
    return [
        breakdown(
            "sendText requests by outcome",
            "Requests to Evolution's sendText per second: sent (201) or the error class the "
            "answer was classified as (see the README's outcome table).",
            REQ_PER_SECOND,
            "zapq_evolution_requests_total",
            "outcome",
        ),
        graph(
            "sendText duration",
            "p50, p95 and p99 of sendText request duration over every outcome and worker "
            "(includes any typing delay).",
            SECONDS,
            quantiles("zapq_evolution_request_duration_seconds"),
            width=8,
        ),
        graph(
            "sendText p95 by outcome",
            "95th percentile of sendText duration per outcome: timeouts sit at the read budget, "
            "fast errors near zero.",
            SECONDS,
            quantiles("zapq_evolution_request_duration_seconds", "outcome", " {{outcome}}")[1:2],
            width=8,
        ),
        graph(
            "sendText error ratio",
            "Share of sendText requests that did not end in a 201.",
            RATIO,
            [query(f"1 - ({SENT_REQUESTS} or vector(0)) / {ALL_REQUESTS}", "errors")],
            width=24,
        ),
    ]


_REASONS = [
    (
        "Retries by reason",
        "Attempts that failed and were scheduled again, per error class.",
        "zapq_messages_retried_total",
    ),
    (
        "Permanent failures by reason",
        "Messages failed for good (not retried: invalid recipient, rejected), per error class.",
        "zapq_messages_failed_total",
    ),
    (
        "Dead-lettered by reason",
        "Messages moved to the dead letters per second (retries exhausted, or redelivered too "
        "often), per error class.",
        "zapq_messages_dead_total",
    ),
]


def _failures() -> list[PanelBuilder]:
    return [
        *(
            breakdown(title, description, MSG_PER_SECOND, counter, "error_class")
            for title, description, counter in _REASONS
        ),
        graph(
            "Dead letters waiting",
            "Messages in the dead letters now (requeue them with POST /v1/dead-letters/requeue).",
            COUNT,
            [query(shared("zapq_queue_dead_letters"), "dead letters")],
            width=8,
        ),
        graph(
            "Expired / cancelled / redelivered",
            "Messages not sent before their expires_at, messages cancelled through the API, and "
            "jobs picked up again after their worker died or hung mid-attempt.",
            MSG_PER_SECOND,
            [
                query(rate("zapq_messages_expired_total", "priority"), "expired {{priority}}"),
                query(rate("zapq_messages_cancelled_total"), "cancelled"),
                query(rate("zapq_messages_redelivered_total"), "redelivered"),
            ],
            width=8,
        ),
        graph(
            "Retrying now",
            "Messages waiting for their next attempt.",
            COUNT,
            [query(shared("zapq_queue_retrying_messages"), "retrying")],
            width=8,
        ),
    ]


def _workers() -> list[PanelBuilder]:
    return [
        graph(
            "In-flight jobs per pod",
            "Jobs each worker pod runs now, against its max_jobs: pods at their max are saturated.",
            COUNT,
            [
                query(f"sum by (pod) (zapq_worker_in_flight_jobs{{{WORKERS}}})", "{{pod}}"),
                query(f"max(zapq_worker_max_jobs{{{WORKERS}}})", "max_jobs"),
            ],
            width=12,
        ),
        graph(
            "Worker slot use",
            "In-flight jobs over all workers divided by their total max_jobs.",
            RATIO,
            [
                query(
                    f"sum(zapq_worker_in_flight_jobs{{{WORKERS}}})"
                    f" / sum(zapq_worker_max_jobs{{{WORKERS}}})",
                    "slots in use",
                )
            ],
            width=12,
        ),
        graph(
            "Sent per second per pod",
            "Messages each worker pod sent per second (a worker's cap is its rate_per_second).",
            MSG_PER_SECOND,
            [query(rate("zapq_messages_sent_total", "pod"), "{{pod}}")],
            width=24,
        ),
    ]
