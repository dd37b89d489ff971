"""`zapq operator` as a real process against kmock (the Kubernetes API emulator, in this event
loop), the Evolution simulator and Redis. Used by tests/operator and loadtest/bench_operator.py.

kmock stores objects as given: it does not apply the CRD's defaults, bump metadata.generation or
run CEL rules (tests/operator/test_crd.py checks those against the CRD itself), so resources here
are written with their defaults filled in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kmock
import yaml

from service.devstack import free_port
from service.operator.resource import GROUP, KIND, PLURAL, VERSION

RESOURCE = f"{GROUP}/{VERSION}/{PLURAL}"
NAMESPACE = "billing"
HOOK_URL = "http://127.0.0.1:9/v1/webhooks/evolution"
HOOK_TOKEN = "hook-token-6c1f0e9a2b7d43c58e4a9f03d2b1c7e6"  # >= 32 characters, as zapq requires
# Startup (imports, login, the first list) takes about a second; 30 s tolerates a loaded machine.
_START_TIMEOUT_SECONDS = 30
# kopf ends its tasks within a second or two of SIGTERM; then SIGKILL.
_STOP_TIMEOUT_SECONDS = 15


def declare(emulator: kmock.KubernetesEmulator) -> None:
    """The resources the operator touches, as the API server's discovery would list them."""
    emulator.resources[RESOURCE] = kmock.ResourceInfo(
        kind=KIND,
        singular="whatsappinstance",
        namespaced=True,
        shortnames={"wai"},
        verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
        subresources={"status"},
    )
    for plural, kind in (("events", "Event"), ("secrets", "Secret")):
        emulator.resources[f"v1/{plural}"] = kmock.ResourceInfo(
            kind=kind, namespaced=True, verbs={"get", "list", "create", "patch", "update"}
        )
    # kopf waits for these to be discovered even when it watches neither (scanning disabled).
    emulator.resources["v1/namespaces"] = kmock.ResourceInfo(
        kind="Namespace", namespaced=False, verbs={"get", "list", "watch"}
    )
    emulator.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False, verbs={"get", "list", "watch"}
    )


def kubeconfig(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": server}}],
        "users": [{"name": "operator", "user": {"token": "operator-token"}}],
        "contexts": [
            {"name": "kmock", "context": {"cluster": "kmock", "user": "operator"}},
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def instance(name: str, **spec: Any) -> dict[str, Any]:
    """A WhatsAppInstance with the CRD's defaults filled in (kmock applies none)."""
    defaults = {
        "integration": "WHATSAPP-BAILEYS",
        "ratePerSecond": 50,
        "burst": 10,
        "paused": False,
        "deleteInstanceOnRemoval": False,
    }
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        # kmock sets neither: kopf's JSON patches test resourceVersion, events name the uid.
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "generation": 1,
            "resourceVersion": "1",
            "uid": f"uid-{name}",
        },
        "spec": defaults | spec,
    }


def path(name: str | None = None, namespace: str = NAMESPACE) -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


def operator_env(redis_url: str, sim_url: str, config: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZAPQ_")}
    return env | {
        "KUBECONFIG": str(config),
        "ZAPQ_REDIS_URL": redis_url,
        "ZAPQ_EVOLUTION__BASE_URL": sim_url,
        "ZAPQ_EVOLUTION__API_KEY": "evo-key",
        "ZAPQ_EVOLUTION__WEBHOOK_TOKEN": HOOK_TOKEN,
        "ZAPQ_OPERATOR__WEBHOOK_URL": HOOK_URL,
        "ZAPQ_OPERATOR__NAMESPACES": NAMESPACE,
        "ZAPQ_OPERATOR__STATE_INTERVAL_SECONDS": "0.5",
        "ZAPQ_OPERATOR__RETRY_DELAY_SECONDS": "0.5",
        "ZAPQ_OPERATOR__DRAIN_POLL_SECONDS": "0.5",
        "ZAPQ_OPERATOR__HEALTH_PORT": str(free_port()),
        "ZAPQ_LOG_LEVEL": "DEBUG",
        **extra,
    }


@asynccontextmanager
async def running_operator(
    env: dict[str, str], log: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`zapq operator` until the block ends; stopped by its PID without blocking this loop
    (kmock answers the operator's last calls from it)."""
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "operator"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        await _stop(proc)


async def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0, what: str = ""
) -> None:
    """Wait (bounded) for a condition (a function, or a coroutine function); a timeout fails, it
    never asserts a duration."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        await asyncio.sleep(0.02)


def stored(emulator: kmock.KubernetesEmulator, name: str) -> dict[str, Any] | None:
    """The resource as the emulator holds it now (None: absent or deleted)."""
    try:
        obj = emulator.objects[RESOURCE, NAMESPACE, name]
    except KeyError:
        return None
    return None if obj.deleted else dict(obj)


def status(emulator: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return dict((stored(emulator, name) or {}).get("status") or {})


def condition(emulator: kmock.KubernetesEmulator, name: str, kind: str) -> dict[str, Any]:
    for item in status(emulator, name).get("conditions") or []:
        if item.get("type") == kind:
            return dict(item)
    return {}
