"""How failures end a handler run (outcomes.py), how the status is written (status.py), and how
kopf's log records are cleaned (main.py), as plain functions."""

from __future__ import annotations

import logging

import kopf
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from service.evolution.errors import (
    EvolutionError,
    EvolutionInstanceNotFound,
    EvolutionRejected,
    EvolutionServerError,
    EvolutionTimeout,
    EvolutionTransportError,
    EvolutionUnauthorized,
    EvolutionUnexpectedResponse,
)
from service.operator.kube import KubeError
from service.operator.main import KopfRecords, kopf_settings
from service.operator.outcomes import SpecProblem, reported
from service.operator.resource import FINALIZER, Resource
from service.operator.status import StatusWriter
from service.settings import OperatorSettings


def resource(**status: object) -> Resource:
    meta = {"name": "sales", "namespace": "billing", "generation": 3}
    return Resource({"metadata": meta, "spec": {}, "status": status})


@pytest.mark.parametrize(
    ("error", "reason", "permanent"),
    [
        (EvolutionTransportError("refused"), "EvolutionUnreachable", False),
        (EvolutionTimeout("slow"), "EvolutionUnreachable", False),
        (EvolutionServerError("HTTP 500", status_code=500), "EvolutionServerError", False),
        (EvolutionUnauthorized("HTTP 401", status_code=401), "Unauthorized", True),
        (EvolutionInstanceNotFound("HTTP 404", status_code=404), "InstanceNotFound", True),
        (EvolutionRejected("HTTP 400", status_code=400), "EvolutionRejected", True),
        (EvolutionUnexpectedResponse("HTTP 403", status_code=403), "EvolutionUnexpected", True),
        (EvolutionUnexpectedResponse("HTTP 200 {error}", status_code=200), "EvolutionUnexp", False),
        (RedisConnectionError("down"), "RedisUnavailable", False),
        (KubeError("GET secret: HTTP 404", 404), "SecretNotFound", False),
        (KubeError("GET secret: HTTP 500", 500), "KubernetesError", False),
        (SpecProblem("ImmutableField", "spec.instanceName cannot change"), "ImmutableField", True),
    ],
)
async def test_failures_become_conditions_and_kopf_errors(
    error: Exception, reason: str, permanent: bool
) -> None:
    patch = kopf.Patch()
    expected = kopf.PermanentError if permanent else kopf.TemporaryError
    with pytest.raises(expected) as caught:
        async with reported(StatusWriter(resource(), patch), retry_delay_seconds=7):
            raise error
    [condition] = patch.status["conditions"]
    assert (condition["type"], condition["status"]) == ("Reconciled", "False")
    assert condition["reason"].startswith(reason)
    assert patch.status["phase"] == ("Error" if permanent else "Pending")
    assert patch.status["lastError"]
    if not permanent:
        assert caught.value.delay == 7  # type: ignore[attr-defined]


async def test_other_errors_pass_through_and_the_status_is_still_written() -> None:
    patch = kopf.Patch()
    writer = StatusWriter(resource(), patch)
    with pytest.raises(KeyError):
        async with reported(writer, retry_delay_seconds=1):
            writer.condition("Ready", True, "Routing")
            raise KeyError("a bug")
    assert patch.status["conditions"][0]["type"] == "Ready"
    assert issubclass(EvolutionRejected, EvolutionError)


def test_the_status_writer_writes_only_changes() -> None:
    old = {"type": "Ready", "status": "True", "reason": "Routing", "message": ""}
    current = resource(phase="Connected", conditions=[{**old, "lastTransitionTime": "T0"}])
    patch = kopf.Patch()
    writer = StatusWriter(current, patch)
    writer.phase(
        current_phase := __import__("service.operator.resource").operator.resource.Phase.CONNECTED
    )
    writer.condition("Ready", True, "Routing")
    writer.flush()
    assert dict(patch) == {}, current_phase
    writer.condition("Ready", False, "Paused")
    writer.synced()
    writer.flush()
    conditions = {c["type"]: c for c in patch.status["conditions"]}
    assert conditions["Ready"]["lastTransitionTime"] != "T0"
    assert conditions["Reconciled"]["observedGeneration"] == 3
    assert patch.status["observedGeneration"] == 3


def test_kopf_settings_in_one_place() -> None:
    settings = kopf_settings(OperatorSettings(post_events=False))
    assert (settings.watching.server_timeout, settings.watching.client_timeout) == (300, 330)
    assert settings.peering.standalone and settings.scanning.disabled
    assert settings.posting.enabled is False
    assert settings.persistence.finalizer == FINALIZER


def test_kopf_records_lose_their_settings_and_timer_successes() -> None:
    record = logging.LogRecord(
        "kopf.objects", logging.INFO, "", 0, "Handler 'setup' ok", None, None
    )
    record.settings = object()
    record.k8s_ref = {"namespace": "billing", "name": "sales"}
    assert KopfRecords().filter(record)
    assert not hasattr(record, "settings")
    assert record.resource == "billing/sales"
    timer = logging.LogRecord(
        "kopf.objects", logging.INFO, "", 0, "Timer 'observe' succeeded.", None, None
    )
    assert not KopfRecords().filter(timer)
