"""Failures: Evolution unreachable is a temporary error retried until it answers; a wrong key and
an invalid spec are permanent, with the reason in a condition."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import kmock
import pytest

from service.devstack import free_port, stop_process, wait_for_port
from tests.operator.conftest import Start
from tests.operator.harness import NAMESPACE, condition, eventually, instance, path, status

pytestmark = pytest.mark.slow


@contextmanager
def simulator(port: int) -> Iterator[str]:
    """A second simulator, started late on a port the resource already names."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.sim", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 15, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


def reason(emulator: kmock.KubernetesEmulator, name: str) -> str:
    return str(condition(emulator, name, "Reconciled").get("reason"))


async def test_unreachable_evolution_is_retried(
    kmock: kmock.KubernetesEmulator, start_operator: Start
) -> None:
    port = free_port()
    await start_operator()
    body = instance("sales", evolution={"url": f"http://127.0.0.1:{port}"})
    await kmock.post(path(), json=body)
    await eventually(lambda: reason(kmock, "sales") == "EvolutionUnreachable", what="unreachable")
    assert status(kmock, "sales")["phase"] == "Pending"
    assert status(kmock, "sales")["lastError"].startswith("Evolution:")

    with simulator(port):  # Evolution is back: the next retry sets the instance up
        await eventually(
            lambda: status(kmock, "sales").get("phase") == "AwaitingQRCode", what="set up"
        )
    assert reason(kmock, "sales") == "Synced"


async def test_a_wrong_key_is_a_permanent_error(
    kmock: kmock.KubernetesEmulator, sim: object, start_operator: Start
) -> None:
    wrong = base64.b64encode(b"not-the-key").decode()
    secret = {"metadata": {"name": "evolution", "namespace": NAMESPACE}, "data": {"key": wrong}}
    kmock.objects["v1/secrets", NAMESPACE, "evolution"] = secret
    log = await start_operator()
    ref = {"name": "evolution", "key": "key"}
    url = sim.url  # type: ignore[attr-defined]
    await kmock.post(path(), json=instance("sales", evolution={"url": url, "apiKeySecretRef": ref}))
    await eventually(lambda: reason(kmock, "sales") == "Unauthorized", what="Unauthorized")
    assert status(kmock, "sales")["phase"] == "Error"
    await eventually(lambda: "failed permanently" in log.read_text(), what="logged")


async def test_a_missing_secret_and_an_invalid_spec_are_reported(
    kmock: kmock.KubernetesEmulator, sim: object, start_operator: Start
) -> None:
    await start_operator()
    url = sim.url  # type: ignore[attr-defined]
    ref = {"name": "absent", "key": "key"}
    await kmock.post(path(), json=instance("a", evolution={"url": url, "apiKeySecretRef": ref}))
    await kmock.post(path(), json=instance("b", evolution={"url": url}, burst=0))
    await eventually(lambda: reason(kmock, "a") == "SecretNotFound", what="SecretNotFound")
    await eventually(lambda: reason(kmock, "b") == "InvalidSpec", what="InvalidSpec")
    assert "burst" in condition(kmock, "b", "Reconciled")["message"]
    assert status(kmock, "a")["phase"] == "Pending"  # creating the Secret is the fix: retried
    assert status(kmock, "b")["phase"] == "Error"
