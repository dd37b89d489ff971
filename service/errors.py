"""Domain errors. The API renders every ServiceError as ``{"error": code, "detail": ...}``.

No FastAPI import here: the worker, the scheduler and the CLI raise the same errors.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error zapq raises on purpose. ``code`` is stable and machine-readable."""

    status_code = 500
    code = "internal_error"
    #: Sent as Retry-After (seconds) when set: the request may be repeated then.
    retry_after_seconds: int | None = None

    def __init__(self, detail: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail


class ValidationFailed(ServiceError):
    """Input that names its problem: detail is a list of ``{"field": ..., "message": ...}``."""

    status_code = 422
    code = "validation_error"


class RecipientOptedOut(ValidationFailed):
    """The recipient is on the suppression list: refused like a bad field, with its own code."""

    code = "recipient_opted_out"


class MalformedJson(ServiceError):
    """A body that is not valid JSON (answered with the same envelope as every other error)."""

    status_code = 400
    code = "malformed_json"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The resource exists in a state that forbids the operation (e.g. cancel a sent message)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class Unavailable(ServiceError):
    """A dependency (Redis) cannot be reached: the request did nothing and may be retried."""

    status_code = 503
    code = "unavailable"


class Forbidden(ServiceError):
    """The key is valid but lacks the scope the route needs."""

    status_code = 403
    code = "forbidden"


class RateLimited(ServiceError):
    """The key's requests per second are used up: retry after ``retry_after_seconds``."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: Any = None, retry_after_seconds: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class QuotaExceeded(RateLimited):
    """The key's messages per day are used up (until its next day, in pool.time_zone)."""

    code = "quota_exceeded"


class IdempotencyConflict(Conflict):
    """The idempotency key was already used with a different request: nothing was enqueued."""

    code = "idempotency_conflict"


class QueueFull(ServiceError):
    """Backpressure: the ready backlog or Redis's memory is past its limit (api.max_ready_messages,
    api.max_redis_memory_ratio). Nothing was enqueued; retry after ``retry_after_seconds``."""

    status_code = 503
    code = "queue_full"
    # Workers drain thousands of messages a minute: a retry half a minute later usually passes.
    retry_after_seconds = 30

    def __init__(self, detail: Any = None, *, reason: str = "") -> None:
        super().__init__(detail)
        #: Which limit: ready_backlog or redis_memory (logged, a metric label).
        self.reason = reason


class StorageFull(ServiceError):
    """Redis refused the write for memory (maxmemory reached, noeviction): nothing was written."""

    status_code = 503
    code = "storage_full"
    # Memory comes back only as records expire or an operator acts: retry in a minute.
    retry_after_seconds = 60
