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
