"""zapq / Overview: are messages flowing, how far behind is the queue, when will it be drained."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from service.dashboards.panels import (
    COUNT,
    MSG_PER_SECOND,
    RATE,
    RATIO,
    REQ_PER_SECOND,
    SECONDS,
    SEL,
    PanelBuilder,
    breakdown,
    dashboard,
    graph,
    quantiles,
    query,
    rate,
    shared,
    single,
)

READY_TOTAL = f"sum({shared('zapq_queue_ready_messages', 'priority')})"
SENT_RATE = rate("zapq_messages_sent_total")
# Backlog / current send rate. With nothing being sent the answer is +Inf (or NaN for an empty
# queue), which Grafana shows as such: an honest "never" rather than a made-up number.
DRAIN_SECONDS = f"{READY_TOTAL} / {SENT_RATE}"


def build() -> Dashboard:
    return dashboard(
        "zapq-overview",
        "zapq / Overview",
        "Messages in and out, delivery latency, the ready backlog and when it will be drained.",
        [
            ("Now", _headline()),
            ("Flow by priority", _flow()),
            ("Senders and kinds", _senders_and_kinds()),
            ("Backlog", _backlog()),
            ("API", _api()),
        ],
    )


def _headline() -> list[PanelBuilder]:
    return [
        single(
            "Sending now",
            "Messages Evolution accepted (HTTP 201) per second, all priorities, all workers.",
            MSG_PER_SECOND,
            SENT_RATE,
        ),
        single(
            "Ready backlog",
            "Messages ready to send now, all priorities (the shared Redis queue).",
            COUNT,
            READY_TOTAL,
            thresholds=[(1000, "yellow"), (10000, "red")],
        ),
        single(
            "Oldest ready message",
            "How long the oldest ready message (any priority) has waited since it became due.",
            SECONDS,
            shared("zapq_queue_oldest_ready_age_seconds"),
            thresholds=[(60, "yellow"), (300, "red")],
        ),
        single(
            "Time to drain",
            "Ready backlog divided by the current send rate: how long until the queue is empty "
            "if nothing new arrives. Infinity: the backlog is not moving.",
            SECONDS,
            DRAIN_SECONDS,
            thresholds=[(300, "yellow"), (1800, "red")],
        ),
        single(
            "Dead letters",
            "Messages in the dead letters, waiting for a requeue or for their retention to end.",
            COUNT,
            shared("zapq_queue_dead_letters"),
            thresholds=[(1, "yellow"), (100, "red")],
        ),
        single(
            "Failed or dead (share)",
            "Share of finished attempts that ended failed or dead over the dashboard's rate "
            "window: sent vs failed + dead.",
            RATIO,
            _failure_share(),
            thresholds=[(0.01, "yellow"), (0.05, "red")],
        ),
    ]


def _failure_share() -> str:
    bad = (
        f"({rate('zapq_messages_failed_total')} or vector(0)) + "
        f"({rate('zapq_messages_dead_total')} or vector(0))"
    )
    return f"({bad}) / ({bad} + {SENT_RATE})"


def _flow() -> list[PanelBuilder]:
    outcomes = [
        ("Accepted", "zapq_messages_accepted_total", "accepted for sending (API and scheduler)"),
        ("Sent", "zapq_messages_sent_total", "accepted by Evolution (HTTP 201)"),
        ("Failed", "zapq_messages_failed_total", "failed for good (not retried)"),
        ("Dead-lettered", "zapq_messages_dead_total", "moved to the dead letters"),
    ]
    panels: list[PanelBuilder] = [
        breakdown(
            f"{title} per second",
            f"Messages {meaning}, per second by priority, summed over every process.",
            MSG_PER_SECOND,
            metric,
            "priority",
            width=6,
        )
        for title, metric, meaning in outcomes
    ]
    panels.append(
        graph(
            "Enqueue-to-sent latency",
            "From when a message became due (enqueue, or its send_at) to Evolution's 201: "
            "p50, p95 and p99 over every worker. Retries count their whole wait.",
            SECONDS,
            quantiles("zapq_enqueue_to_sent_seconds"),
        )
    )
    panels.append(
        graph(
            "Enqueue-to-sent p95 by priority",
            "95th percentile of the enqueue-to-sent latency per priority: urgent should stay "
            "flat while normal and low absorb a backlog.",
            SECONDS,
            quantiles("zapq_enqueue_to_sent_seconds", "priority", " {{priority}}")[1:2],
        )
    )
    return panels


def _senders_and_kinds() -> list[PanelBuilder]:
    return [
        single(
            "Senders available",
            "Senders of the pool that can take messages now: not paused, connected, breaker not "
            "open, below their daily limit. None: nothing is sent (alert ZapqNoSenderAvailable); "
            "zapq / Sending has a row per sender.",
            COUNT,
            shared("zapq_senders_available"),
            mappings={"0": ("none", "red")},
        ),
        breakdown(
            "Sent per second by kind",
            "Messages accepted by Evolution (HTTP 201) per second, text or media, summed over "
            "every worker.",
            MSG_PER_SECOND,
            "zapq_messages_sent_total",
            "kind",
            width=10,
        ),
        breakdown(
            "Accepted per second by kind",
            "Messages accepted for sending (API and scheduler) per second, text or media.",
            MSG_PER_SECOND,
            "zapq_messages_accepted_total",
            "kind",
            width=10,
        ),
    ]


def _backlog() -> list[PanelBuilder]:
    return [
        graph(
            "Ready backlog by priority",
            "Messages ready to send now, per priority (max over processes: every process "
            "reports the same shared queue).",
            COUNT,
            [query(shared("zapq_queue_ready_messages", "priority"), "{{priority}}")],
            width=8,
            stacked=True,
        ),
        graph(
            "Oldest ready age by priority",
            "How long the oldest ready message of each priority has waited since it became "
            "due. A growing line is a queue that is not keeping up.",
            SECONDS,
            [query(shared("zapq_queue_oldest_ready_age_seconds", "priority"), "{{priority}}")],
            width=8,
        ),
        graph(
            "Estimated time to drain",
            "Ready backlog / current send rate (both over every process).",
            SECONDS,
            [query(DRAIN_SECONDS, "time to drain")],
            width=8,
        ),
        graph(
            "Waiting outside the ready queue",
            "Scheduled (send_at in the future), waiting for a retry, being sent now, and dead "
            "letters.",
            COUNT,
            [
                query(shared("zapq_queue_scheduled_messages"), "scheduled"),
                query(shared("zapq_queue_retrying_messages"), "retrying"),
                query(shared("zapq_queue_in_flight_messages"), "in flight"),
                query(shared("zapq_queue_dead_letters"), "dead letters"),
            ],
            width=24,
        ),
    ]


def _api() -> list[PanelBuilder]:
    return [
        breakdown(
            "API requests by status",
            "Requests per second the API answered, by HTTP status (all routes).",
            REQ_PER_SECOND,
            "zapq_http_requests_total",
            "status",
        ),
        graph(
            "API request duration p95 by route",
            "95th percentile of API request duration per route template.",
            SECONDS,
            [
                query(
                    "histogram_quantile(0.95, sum by (route, le) "
                    f"(rate(zapq_http_request_duration_seconds_bucket{{{SEL}}}[{RATE}])))",
                    "{{route}}",
                )
            ],
            width=8,
        ),
        graph(
            "Refused and deduplicated",
            "Messages refused before enqueue (by reason) and requests answered with an existing "
            "message because of their idempotency key.",
            MSG_PER_SECOND,
            [
                query(rate("zapq_messages_rejected_total", "reason"), "rejected: {{reason}}"),
                query(rate("zapq_messages_deduplicated_total", "source"), "deduplicated"),
            ],
            width=8,
        ),
    ]
