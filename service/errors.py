"""Domain errors. The API renders every ServiceError as ``{"error": code, "detail": ...}``.

No FastAPI import here: the worker, the scheduler and the CLI raise the same errors.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error zapq raises on purpose. ``code`` is stable and machine-readable."""

    status_code = 500
    code = "internal_error"

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
