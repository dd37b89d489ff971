"""How a failed call ends a handler run: a condition with its reason in the status, then kopf's
TemporaryError (retried after ``ZAPQ_OPERATOR__RETRY_DELAY_SECONDS``) or PermanentError (not
retried until the resource changes).

    no answer, timeout, 5xx, Redis down, the API server failing   -> TemporaryError
    401 (wrong key), 400 (Evolution refused the request), invalid
    spec, a changed immutable field                                -> PermanentError
    a Secret or key that does not exist (yet)                      -> TemporaryError: creating
                                                                      it is the fix
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import kopf
from pydantic import ValidationError
from redis.exceptions import RedisError

from service.evolution.errors import (
    EvolutionError,
    EvolutionInstanceNotFound,
    EvolutionRejected,
    EvolutionServerError,
    EvolutionTransportError,
    EvolutionUnauthorized,
)
from service.operator.kube import KubeError
from service.operator.status import StatusWriter


class SpecProblem(Exception):
    """The resource asks for something the operator refuses; ``reason`` names the condition."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def spec_message(exc: ValidationError) -> str:
    """pydantic's errors as ``field.path: message``, without the values (they may be keys)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'spec'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


def _evolution(exc: EvolutionError) -> tuple[str, bool]:
    """(reason, permanent) of an Evolution failure."""
    if isinstance(exc, EvolutionUnauthorized):
        return "Unauthorized", True
    if isinstance(exc, EvolutionInstanceNotFound):
        return "InstanceNotFound", True
    if isinstance(exc, EvolutionRejected):
        return "EvolutionRejected", True
    if isinstance(exc, EvolutionServerError):
        return "EvolutionServerError", False
    if isinstance(exc, EvolutionTransportError):
        return "EvolutionUnreachable", False
    status = exc.status_code or 0
    return "EvolutionUnexpectedResponse", 400 <= status < 500


def classify(exc: Exception) -> tuple[str, bool, str] | None:
    """(reason, permanent, message) of a failure the handlers report; None: not ours."""
    if isinstance(exc, SpecProblem):
        return exc.reason, True, str(exc)
    if isinstance(exc, ValidationError):
        return "InvalidSpec", True, spec_message(exc)
    if isinstance(exc, EvolutionError):
        reason, permanent = _evolution(exc)
        return reason, permanent, f"Evolution: {exc.message}"
    if isinstance(exc, RedisError):
        return "RedisUnavailable", False, f"Redis: {type(exc).__name__}"
    if isinstance(exc, KubeError):
        reason = "SecretNotFound" if exc.status == 404 else "KubernetesError"
        return reason, False, str(exc)
    return None


@asynccontextmanager
async def reported(writer: StatusWriter, retry_delay_seconds: float) -> AsyncIterator[None]:
    """Run a handler's calls; a failure goes to the status, then to kopf as its error. The
    status patch is flushed either way (kopf applies it after a failed run too)."""
    try:
        yield
    except Exception as exc:
        known = classify(exc)
        if known is None:
            raise
        reason, permanent, message = known
        writer.failed(reason, message, permanent=permanent)
        if permanent:
            raise kopf.PermanentError(f"{reason}: {message}") from exc
        raise kopf.TemporaryError(f"{reason}: {message}", delay=retry_delay_seconds) from exc
    finally:
        writer.flush()
