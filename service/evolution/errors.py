"""Errors of the Evolution API client.

    EvolutionError                    base: .error_class (a bounded label), .retryable,
                                      .blames_sender (S below: the sender failed, not the
                                      message; it counts against the sender's breaker and the
                                      pool reroutes the message), .about_recipient (R below)
    +-- EvolutionTransportError       no usable HTTP answer: connect error, timeout, reset (S)
    |   +-- EvolutionTimeout          the request timed out; it may have been delivered    (S)
    +-- EvolutionServerError          5xx: Evolution itself failed                         (S)
    +-- EvolutionInstanceUnavailable  400 "Error: ..." from the WhatsApp socket, e.g.
    |                                 "Connection Closed": the instance's fault            (S)
    +-- EvolutionUnauthorized         401: our apikey is wrong                     (S, loudly)
    +-- EvolutionInstanceNotFound     404: the configured instance does not exist  (S, loudly)
    +-- EvolutionInvalidRecipient     400 with exists:false: not on WhatsApp         (R, final)
    +-- EvolutionRejected             any other 400: the request itself is wrong     (R, final)
    +-- EvolutionUnexpectedResponse   a status or body the contract does not describe   (retry)

S errors are retried through another sender without counting an attempt (unless the message itself
is the problem: service/queue/lua/complete.lua); the others retry with backoff or end the message.
httpx errors never leave this package: the client wraps them with ``raise ... from exc``.
"""

from __future__ import annotations


class EvolutionError(Exception):
    error_class = "evolution_error"
    retryable = True
    #: The sender (its session, server or key) failed, not the message: the pool reroutes it.
    blames_sender = False
    #: Evolution looked at the recipient and refused it: proof that the sender itself works.
    about_recipient = False
    #: True when operators must act (wrong key, unknown instance): logged at ERROR, alerted on.
    alarming = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class EvolutionTransportError(EvolutionError):
    error_class = "transport"
    blames_sender = True


class EvolutionTimeout(EvolutionTransportError):
    error_class = "timeout"


class EvolutionServerError(EvolutionError):
    error_class = "server_error"
    blames_sender = True


class EvolutionInstanceUnavailable(EvolutionError):
    error_class = "instance_unavailable"
    blames_sender = True


class EvolutionUnauthorized(EvolutionError):
    error_class = "unauthorized"
    blames_sender = True
    alarming = True


class EvolutionInstanceNotFound(EvolutionError):
    error_class = "instance_not_found"
    blames_sender = True
    alarming = True


class EvolutionInvalidRecipient(EvolutionError):
    error_class = "invalid_recipient"
    retryable = False
    about_recipient = True


class EvolutionRejected(EvolutionError):
    error_class = "rejected"
    retryable = False
    about_recipient = True


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
