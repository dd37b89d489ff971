"""The kopf handlers of WhatsAppInstance, registered on a registry of their own (no module-level
state): each hands the resource to the Reconciler (reconcile.py).

    login     kopf's own: the pod's service account, else KUBECONFIG; the same credentials go to
              the operator's small Kubernetes client (kube.py)
    create    Reconciler.setup                  update (spec)   Reconciler.changed
    timer     Reconciler.observe                delete          Reconciler.removed (finalizer)
    resume    Reconciler.observe, webhook set again (each resource when the operator starts)
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from service.operator.kube import KubeClient
from service.operator.reconcile import Reconciler
from service.operator.resource import GROUP, PLURAL, VERSION, Resource
from service.settings import OperatorSettings

log = logging.getLogger("zapq.operator")


def _announce(body: kopf.Body, patch: kopf.Patch, enabled: bool) -> None:
    """A log line and a Kubernetes Event for each phase change (kubectl describe shows the
    history)."""
    phase = patch.status.get("phase") if "status" in patch else None
    if not phase:
        return
    meta = body.get("metadata", {})
    log.info("phase %s", phase, extra={"resource": f"{meta.get('namespace')}/{meta.get('name')}"})
    if enabled:
        kind = "Warning" if phase in ("Disconnected", "Error") else "Normal"
        kopf.event(body, type=kind, reason=str(phase), message=f"phase {phase}")


def build_registry(
    reconciler: Reconciler, kube: KubeClient, settings: OperatorSettings
) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    on = (GROUP, VERSION, PLURAL)
    events = settings.post_events

    @kopf.on.login(id="login", registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        if info is not None:
            await kube.login(info)
        return info

    @kopf.on.create(*on, id="setup", registry=registry)
    async def create(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        try:
            await reconciler.setup(Resource(body), patch)
        finally:
            _announce(body, patch, events)

    @kopf.on.update(*on, id="apply", field="spec", registry=registry)
    async def update(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        try:
            await reconciler.changed(Resource(body), patch)
        finally:
            _announce(body, patch, events)

    @kopf.on.resume(*on, id="resume", registry=registry)
    async def resume(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        try:
            await reconciler.observe(Resource(body), patch, webhook=True)
        finally:
            _announce(body, patch, events)

    @kopf.timer(*on, id="observe", interval=settings.state_interval_seconds, registry=registry)
    async def observe(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        try:
            await reconciler.observe(Resource(body), patch)
        finally:
            _announce(body, patch, events)

    @kopf.on.delete(*on, id="remove", registry=registry)
    async def delete(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
        await reconciler.removed(Resource(body), logger)

    return registry
