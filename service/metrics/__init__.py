"""Every Prometheus metric zapq exports, in one place. Catalogue with meanings: docs/metrics.md.

Labels take bounded values only: priority (urgent|normal|low), kind (text|media), error_class /
outcome (the values of service.evolution.errors.ERROR_CLASSES plus "sent", "expired",
"redelivery_limit", "sender_unknown"), route templates, and sender: the name of a sender of the
pool, which comes from configuration (ZAPQ_SENDERS, the API, the operator), never from a request.

Queue gauges describe the one shared Redis queue, so every api and worker process exports the same
values: aggregate them with ``max by (priority)``, never ``sum``.
"""

from __future__ import annotations

import functools

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `<name>_created` series beside every counter and histogram: no dashboard or alert reads them,
# and they are a fifth of a worker's series (docs/benchmarks.md, "Observability").
disable_created_metrics()  # type: ignore[no-untyped-call]

# Evolution answers in ~0.1-1 s; the tail buckets catch typing delays and timeouts (30 s read
# budget).
_REQUEST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60)
# Enqueue-to-sent spans milliseconds (idle queue) to hours (retries after 5 min, 25 min, 2 h).
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400)
# A send waits for its sender's booked slot at most pool.reserve_ahead_seconds (0.2 s); few buckets,
# as the histogram is per sender.
_WAIT_BUCKETS = (0.005, 0.025, 0.1, 0.25, 1)

ACCEPTED = Counter(
    "zapq_messages_accepted",
    "Messages accepted for sending (API or scheduler).",
    ["priority", "source", "kind"],
)
DEDUPLICATED = Counter(
    "zapq_messages_deduplicated",
    "Requests answered with an existing message because of their idempotency key.",
    ["source"],
)
REJECTED = Counter(
    "zapq_messages_rejected", "Messages refused at the API before enqueue.", ["reason"]
)
SENT = Counter(
    "zapq_messages_sent", "Messages Evolution accepted (HTTP 201).", ["priority", "kind"]
)
FAILED = Counter(
    "zapq_messages_failed", "Messages failed for good (not retried).", ["priority", "error_class"]
)
RETRIED = Counter(
    "zapq_messages_retried",
    "Attempts that failed and were scheduled again.",
    ["priority", "error_class"],
)
DEAD = Counter(
    "zapq_messages_dead", "Messages moved to the dead letters.", ["priority", "error_class"]
)
EXPIRED = Counter("zapq_messages_expired", "Messages not sent before expires_at.", ["priority"])
CANCELLED = Counter("zapq_messages_cancelled", "Messages cancelled through the API.", ["priority"])
REDELIVERED = Counter(
    "zapq_messages_redelivered",
    "Jobs picked up again after their worker died or hung mid-attempt.",
    ["priority"],
)

EVOLUTION_REQUESTS = Counter(
    "zapq_evolution_requests", "sendText requests by outcome (sent or an error class).", ["outcome"]
)
EVOLUTION_DURATION = Histogram(
    "zapq_evolution_request_duration_seconds",
    "sendText request duration, by outcome kind: sent, timeout or error.",
    ["outcome"],
    buckets=_REQUEST_BUCKETS,
)


def duration_outcome(outcome: str) -> str:
    """EVOLUTION_DURATION's label: sent, timeout or error (per error class it was half a worker's
    series; the classes are counted by EVOLUTION_REQUESTS)."""
    return outcome if outcome in ("sent", "timeout") else "error"


ENQUEUE_TO_SENT = Histogram(
    "zapq_enqueue_to_sent_seconds",
    "From when a message became due (enqueue or send_at) to Evolution's 201.",
    ["priority"],
    buckets=_LATENCY_BUCKETS,
)
REROUTED = Counter(
    "zapq_messages_rerouted",
    "Attempts refused by their sender's fault, sent again through the pool (attempt not counted).",
    ["error_class"],
)
LIMITER_WAIT = Histogram(
    "zapq_sender_limiter_wait_seconds",
    "Time a send waited for its sender's booked slot (the shared per-sender rate limit).",
    ["sender"],
    buckets=_WAIT_BUCKETS,
)
SENDER_SENT = Counter("zapq_sender_sent", "Messages sent through each sender.", ["sender"])
REBOOKED = Counter(
    "zapq_sender_rebooked",
    "Sends whose worker woke more than one send interval past its booked slot and booked the "
    "sender's next one (a loaded host; a late send could break the sender's rate).",
    ["sender"],
)
SENDER_REFUSALS = Counter(
    "zapq_sender_refusals",
    "Sends that failed by the sender's fault (they count against its breaker).",
    ["sender", "error_class"],
)
SENDER_BREAKER = Gauge(
    "zapq_sender_breaker_state",
    "The sender's circuit breaker: 0 closed, 1 half open, 2 open.",
    ["sender"],
)
SENDER_AVAILABLE = Gauge(
    "zapq_sender_available",
    "1 when the sender can take messages (not paused, connected, breaker not open, below its "
    "daily limit).",
    ["sender"],
)
SENDERS_AVAILABLE = Gauge("zapq_senders_available", "Senders of the pool that can take messages.")
SENDER_RATE = Gauge(
    "zapq_sender_rate_limit_per_second", "The sender's configured send rate.", ["sender"]
)
SENDER_TODAY = Gauge(
    "zapq_sender_sent_today", "Send attempts booked today in the sender's time zone.", ["sender"]
)
SENDER_DAILY_LIMIT = Gauge(
    "zapq_sender_daily_limit", "The sender's daily limit (absent when it has none).", ["sender"]
)
SENDER_PAUSED = Gauge("zapq_sender_paused", "1 when the sender is paused.", ["sender"])

WORKER_IN_FLIGHT = Gauge("zapq_worker_in_flight_jobs", "Jobs this worker process is running.")
WORKER_MAX_JOBS = Gauge("zapq_worker_max_jobs", "This worker process's max_jobs.")

QUEUE_READY = Gauge("zapq_queue_ready_messages", "Messages ready to send now.", ["priority"])
QUEUE_OLDEST_AGE = Gauge(
    "zapq_queue_oldest_ready_age_seconds",
    "Age of the oldest ready message since it became due.",
    ["priority"],
)
QUEUE_SCHEDULED = Gauge("zapq_queue_scheduled_messages", "Messages waiting for their send_at.")
QUEUE_RETRYING = Gauge("zapq_queue_retrying_messages", "Messages waiting for a retry.")
QUEUE_IN_FLIGHT = Gauge("zapq_queue_in_flight_messages", "Messages a worker is sending now.")
QUEUE_DEAD = Gauge("zapq_queue_dead_letters", "Messages in the dead letters.")

REDIS_MEMORY_USED = Gauge(
    "zapq_redis_memory_used_bytes", "Memory the Redis of the queue uses (INFO used_memory)."
)
REDIS_MEMORY_MAX = Gauge(
    "zapq_redis_memory_max_bytes",
    "The Redis's maxmemory (0: no limit); past it Redis refuses new messages (storage_full).",
)

SCHEDULE_LAST_RUN = Gauge(
    "zapq_schedule_last_run_timestamp_seconds", "When the last `zapq schedule` run ended (unix s)."
)
SCHEDULE_LAST_SUCCESS = Gauge(
    "zapq_schedule_last_success_timestamp_seconds",
    "When the last successful `zapq schedule` run ended (unix s).",
)
SCHEDULE_LAST_FAILED = Gauge(
    "zapq_schedule_last_run_failed", "1 when the last `zapq schedule` run failed, else 0."
)

HTTP_REQUESTS = Counter(
    "zapq_http_requests",
    "API requests by route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "zapq_http_request_duration_seconds",
    "API request duration by route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


# Methods, route templates and statuses are few; the bound only guards against the unforeseen.
@functools.lru_cache(maxsize=1024)
def http_series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """HTTP_REQUESTS and HTTP_DURATION of one method, route template and status, looked up once:
    ``labels()`` takes a lock and formats its values on every call, on every request."""
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_DURATION.labels(method, route)


# -- the delivery lifecycle: Evolution's webhooks, receipts, opt-outs, client callbacks ---------

# Receipts come in seconds (delivered) to hours or days (read).
_RECEIPT_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)
# A receiver answers in milliseconds to its timeout (callbacks.timeout_seconds, 10 s).
_CALLBACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

WEBHOOK_EVENTS = Counter(
    "zapq_webhook_events",
    "Evolution webhook events received (authenticated), by event and what zapq made of them.",
    ["event", "outcome"],
)
RECEIPTS = Counter(
    "zapq_message_receipts",
    "Receipts that moved a sent message's status (acknowledged, delivered, read, failed).",
    ["status"],
)
SENT_TO_DELIVERED = Histogram(
    "zapq_sent_to_delivered_seconds",
    "From Evolution's 201 to the DELIVERY_ACK receipt.",
    buckets=_RECEIPT_BUCKETS,
)
SENT_TO_READ = Histogram(
    "zapq_sent_to_read_seconds",
    "From Evolution's 201 to the READ receipt.",
    buckets=_RECEIPT_BUCKETS,
)
OPT_OUTS = Counter(
    "zapq_opt_outs", "Numbers put on the suppression list, by how (keyword, api).", ["source"]
)
OPTED_OUT_MESSAGES = Counter(
    "zapq_messages_opted_out",
    "Messages not sent because their recipient opted out, by where they were stopped "
    "(api: refused; worker: cancelled when taken; scheduler: skipped).",
    ["stage"],
)
CALLBACKS_DELIVERED = Counter(
    "zapq_callbacks_delivered", "Client callbacks the receiver answered with a 2xx.", ["type"]
)
CALLBACK_FAILURES = Counter(
    "zapq_callback_attempt_failures",
    "Client callback attempts that failed, by reason (http_4xx, http_5xx, http_other, timeout, "
    "transport, refused_address, unrenderable).",
    ["reason"],
)
CALLBACKS_DEAD = Counter(
    "zapq_callbacks_dead",
    "Client callbacks moved to their dead letters (retries exhausted or address refused).",
    ["type"],
)
CALLBACK_DURATION = Histogram(
    "zapq_callback_request_duration_seconds",
    "Client callback request duration, by outcome (delivered, failed).",
    ["outcome"],
    buckets=_CALLBACK_BUCKETS,
)
CALLBACKS_DEAD_LETTERS = Gauge(
    "zapq_callbacks_dead_letters", "Client callbacks in their dead letters (shared: use max)."
)
CALLBACKS_IN_FLIGHT = Gauge(
    "zapq_callbacks_in_flight", "Client callbacks being delivered now, all workers (use max)."
)
