"""Errors of the Evolution API client.

    EvolutionError                    base: .error_class (a bounded label), .retryable
    +-- EvolutionTransportError       no usable HTTP answer: connect error, timeout, reset  (retry)
    |   +-- EvolutionTimeout          the request timed out; it may have been delivered      (retry)
    +-- EvolutionServerError          5xx: Evolution itself failed                          (retry)
    +-- EvolutionInstanceUnavailable  400 "Error: ..." from the WhatsApp socket, e.g.
    |                                 "Connection Closed": the instance's fault             (retry)
    +-- EvolutionUnauthorized         401: our apikey is wrong                      (retry, loudly)
    +-- EvolutionInstanceNotFound     404: the configured instance does not exist   (retry, loudly)
    +-- EvolutionInvalidRecipient     400 with exists:false: the number is not on WhatsApp  (final)
    +-- EvolutionRejected             any other 400: the request itself is wrong            (final)
    +-- EvolutionUnexpectedResponse   a status or body the contract does not describe       (retry)

httpx errors never leave this package: the client wraps them with ``raise ... from exc``.
"""

from __future__ import annotations


class EvolutionError(Exception):
    error_class = "evolution_error"
    retryable = True
    #: True when operators must act (wrong key, unknown instance): logged at ERROR, alerted on.
    alarming = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class EvolutionTransportError(EvolutionError):
    error_class = "transport"


class EvolutionTimeout(EvolutionTransportError):
    error_class = "timeout"


class EvolutionServerError(EvolutionError):
    error_class = "server_error"


class EvolutionInstanceUnavailable(EvolutionError):
    error_class = "instance_unavailable"


class EvolutionUnauthorized(EvolutionError):
    error_class = "unauthorized"
    alarming = True


class EvolutionInstanceNotFound(EvolutionError):
    error_class = "instance_not_found"
    alarming = True


class EvolutionInvalidRecipient(EvolutionError):
    error_class = "invalid_recipient"
    retryable = False


class EvolutionRejected(EvolutionError):
    error_class = "rejected"
    retryable = False


class EvolutionUnexpectedResponse(EvolutionError):
    error_class = "unexpected_response"


#: Every error_class value, for metric label documentation and tests.
ERROR_CLASSES = tuple(
    cls.error_class
    for cls in (
        EvolutionTransportError,
        EvolutionTimeout,
        EvolutionServerError,
        EvolutionInstanceUnavailable,
        EvolutionUnauthorized,
        EvolutionInstanceNotFound,
        EvolutionInvalidRecipient,
        EvolutionRejected,
        EvolutionUnexpectedResponse,
    )
)
