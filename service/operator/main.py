"""`zapq operator`: kopf's settings, stated here and nowhere else, and the process around it.

One replica (the chart's Deployment uses Recreate): peering is off, so no KopfPeering resources
and no RBAC for them; two replicas would handle every event twice.
"""

from __future__ import annotations

import asyncio
import logging

import kopf
from redis.asyncio import Redis

from service.operator.handlers import build_registry
from service.operator.kube import KubeClient
from service.operator.reconcile import Reconciler
from service.operator.resource import ANNOTATIONS_PREFIX, FINALIZER
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.senders.registry import SenderRegistry
from service.settings import OperatorSettings, Settings

log = logging.getLogger("zapq.operator")


class KopfRecords(logging.Filter):
    """kopf's per-object records as zapq's JSON lines: its ``settings`` extra (the whole
    OperatorSettings) and ``k8s_skip`` dropped, ``k8s_ref`` reduced to namespace/name, and a
    timer's every success left out (one line per resource every few seconds says nothing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        fields.pop("settings", None)
        fields.pop("k8s_skip", None)
        ref = fields.pop("k8s_ref", None)
        if isinstance(ref, dict):
            fields["resource"] = f"{ref.get('namespace')}/{ref.get('name')}"
        message = record.getMessage()
        return not (message.startswith("Timer ") and message.endswith(" succeeded."))


def kopf_settings(ours: OperatorSettings) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # Watches that go silent without closing (a known kopf issue behind load balancers): the API
    # server ends each one after server_timeout, the client gives up a little later.
    settings.watching.server_timeout = ours.watch_server_timeout_seconds
    settings.watching.client_timeout = ours.watch_client_timeout_seconds
    settings.watching.connect_timeout = 10
    # One replica, no peering: no KopfPeering resource to create or be allowed to patch.
    settings.peering.standalone = True
    settings.peering.mandatory = False
    # No watching of CRDs and namespaces: the operator serves the resource it was started for,
    # in the namespaces it was given, with a namespaced Role (no ClusterRole needed).
    settings.scanning.disabled = True
    # Events for warnings and errors (and the phase changes handlers.py posts); a timer's success
    # every few seconds would flood `kubectl describe`.
    settings.posting.enabled = ours.post_events
    settings.posting.level = logging.WARNING
    # kopf's bookkeeping under zapq.io, in annotations: the status keeps the strict schema of
    # the CRD (kopf's default status.kopf would be pruned by it).
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATIONS_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATIONS_PREFIX
    )
    return settings


async def serve(
    settings: Settings,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until stopped (SIGTERM, or ``stop_flag`` in tests)."""
    ours = settings.operator
    redis: Redis = create_redis(settings, "operator", max_connections=10)
    kube = KubeClient()
    try:
        registry = SenderRegistry(MessageQueue(redis, settings))
        handlers = build_registry(Reconciler(settings, registry, kube), kube, ours)
        liveness = f"http://0.0.0.0:{ours.health_port}/healthz" if ours.health_port else None
        log.info(
            "operator starting",
            extra={"namespaces": ours.namespaces or "all", "interval": ours.state_interval_seconds},
        )
        await kopf.operator(
            registry=handlers,
            settings=kopf_settings(ours),
            clusterwide=not ours.namespaces,
            namespaces=ours.namespaces,
            standalone=True,
            liveness_endpoint=liveness,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        await kube.aclose()
        await redis.aclose()


def run(settings: Settings) -> None:
    """The command: logging already configured (JSON lines), kopf's records filtered."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(KopfRecords())
    asyncio.run(serve(settings))
