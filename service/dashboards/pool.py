"""The sender pool's panels of zapq / Sending: the pool as a whole, then one row per sender.

The per-sender gauges (breaker, availability, rate limit, today's count, daily limit, paused) are
read from the registry in Redis by every api and worker process, so they aggregate with max like
the queue gauges; the per-sender counters and the limiter wait histogram are per process: sum.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from service.dashboards.panels import (
    COUNT,
    MSG_PER_SECOND,
    RATIO,
    SECONDS,
    SEL,
    SENDER,
    PanelBuilder,
    breakdown,
    graph,
    quantiles,
    query,
    rate,
    shared,
    single,
)

# What the pool can send now: the summed rate limits of the senders that can take messages (a
# paused, disconnected, open or exhausted sender adds nothing). Empty when none can: a ratio
# over it is then no data rather than a division by zero.
AVAILABLE_RATE = (
    f"(sum(max by (sender) (zapq_sender_rate_limit_per_second{{{SEL}}}) "
    f"* on (sender) max by (sender) (zapq_sender_available{{{SEL}}})) > 0)"
)
# Every request to Evolution takes a slot of its sender's rate, whatever its outcome.
REQUEST_RATE = rate("zapq_evolution_requests_total")
POOL_USE = f"{REQUEST_RATE} / {AVAILABLE_RATE}"

_BREAKER = {"0": ("closed", "green"), "1": ("half open", "yellow"), "2": ("open", "red")}
_AVAILABLE = {"0": ("no", "red"), "1": ("yes", "green")}
_PAUSED = {"0": ("no", "green"), "1": ("paused", "yellow")}


def pool_panels() -> list[PanelBuilder]:
    return [
        breakdown(
            "Sends per second by sender",
            "Messages each sender got a 201 for, per second, summed over every worker.",
            MSG_PER_SECOND,
            "zapq_sender_sent_total",
            "sender",
            width=12,
        ),
        graph(
            "Pool use",
            "Requests to Evolution per second (every outcome takes a slot of its sender's rate) "
            "over the summed rate limits of the senders available now. Near 100 % while the "
            "ready backlog grows: the pool is saturated, and more senders help where more "
            "worker pods do not (alert ZapqPoolSaturated).",
            RATIO,
            [query(POOL_USE, "pool use")],
            width=12,
        ),
        breakdown(
            "Rerouted by reason",
            "Attempts refused by their sender's fault (its session, server or key) and sent again "
            "through the pool, per second by error class: the attempt is not counted.",
            MSG_PER_SECOND,
            "zapq_messages_rerouted_total",
            "error_class",
            width=12,
        ),
        graph(
            "Senders available vs in the pool",
            "Senders that can take messages now (not paused, connected, breaker not open, below "
            "their daily limit), senders in the pool, and paused senders.",
            COUNT,
            [
                query(shared("zapq_senders_available"), "available"),
                query(f"count({shared('zapq_sender_rate_limit_per_second', 'sender')})", "in pool"),
                query(f"sum({shared('zapq_sender_paused', 'sender')})", "paused"),
            ],
            width=12,
        ),
    ]


def sender_row() -> dash.Row:
    """Grafana repeats this row, and the panels up to the next row, once per value of $sender."""
    return dash.Row("Sender $sender").repeat("sender")


def sender_panels() -> list[PanelBuilder]:
    return [*_sender_state(), *_sender_graphs()]


def _sender_state() -> list[PanelBuilder]:
    return [
        single(
            "Breaker",
            "The sender's circuit breaker: open after consecutive sender faults (or a high fault "
            "share); half open while trial sends test it; closed again on a success.",
            COUNT,
            shared("zapq_sender_breaker_state", matchers=SENDER),
            width=6,
            mappings=_BREAKER,
        ),
        single(
            "Available",
            "Whether the pool may route to the sender now (its rate aside).",
            COUNT,
            shared("zapq_sender_available", matchers=SENDER),
            width=6,
            mappings=_AVAILABLE,
        ),
        single(
            "Paused",
            "Paused by an operator (POST /v1/senders/{name}/pause, `zapq senders pause`).",
            COUNT,
            shared("zapq_sender_paused", matchers=SENDER),
            width=6,
            mappings=_PAUSED,
        ),
        single(
            "Sent today",
            "Send attempts booked today, in the sender's time zone (its daily limit counts them).",
            COUNT,
            shared("zapq_sender_sent_today", matchers=SENDER),
            width=6,
        ),
    ]


def _sender_graphs() -> list[PanelBuilder]:
    return [
        graph(
            "Sends per second vs rate limit",
            "Messages the sender got a 201 for, per second, against its rate limit (shared by "
            "every pod).",
            MSG_PER_SECOND,
            [
                query(rate("zapq_sender_sent_total", matchers=SENDER), "sent"),
                query(shared("zapq_sender_rate_limit_per_second", matchers=SENDER), "rate limit"),
            ],
        ),
        graph(
            "Slots rebooked",
            "Sends whose worker woke more than one send interval past its booked slot and booked "
            "the next one (a late send could break the sender's rate), per second. Steadily above "
            "0: the workers' hosts are overloaded.",
            MSG_PER_SECOND,
            [query(rate("zapq_sender_rebooked_total", matchers=SENDER), "rebooked")],
        ),
        graph(
            "Refusals by class",
            "Sends that failed by the sender's fault, per second by error class: each counts "
            "against its breaker, and the message goes to another sender.",
            MSG_PER_SECOND,
            [query(rate("zapq_sender_refusals_total", "error_class", SENDER), "{{error_class}}")],
            stacked=True,
        ),
        graph(
            "Limiter wait p95",
            "95th percentile of the time a send waited for its booked slot of the sender's rate "
            "(at most ZAPQ_POOL__RESERVE_AHEAD_SECONDS, 0.2 s). Near that all the time: the "
            "sender runs at its rate.",
            SECONDS,
            quantiles("zapq_sender_limiter_wait_seconds", matchers=SENDER)[1:2],
        ),
        graph(
            "Today vs daily limit",
            "Send attempts booked today in the sender's time zone, against its daily limit (no "
            "line for a sender without one). At the limit it takes nothing until midnight.",
            COUNT,
            [
                query(shared("zapq_sender_sent_today", matchers=SENDER), "today"),
                query(shared("zapq_sender_daily_limit", matchers=SENDER), "daily limit"),
            ],
        ),
    ]
