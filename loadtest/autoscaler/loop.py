"""The emulated HPA in the loop: every sync (15 s, Kubernetes' --horizontal-pod-autoscaler-sync-
period) it reads the ready backlog from the zapq processes' /metrics and each worker pod's CPU and
memory from /proc, runs the controller, and starts or SIGTERMs `zapq worker` processes to match;
between syncs it probes readiness every second. Every sync is recorded in ``timeline``."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from loadtest.autoscaler.chart import WorkerAutoscaler
from loadtest.autoscaler.controller import Decision, HorizontalController, Observation, milli
from loadtest.autoscaler.pods import PROBE_TIMEOUT_SECONDS, WorkerPods
from loadtest.autoscaler.sampling import ResourceSampler, ready_backlog, scrape
from loadtest.autoscaler.synthetic import SYNC_SECONDS

# The kubelet's readiness probes and our reaping of exited pods run this often between syncs.
PROBE_SECONDS = 1.0


@dataclass(frozen=True)
class Sync:
    """One sync of the timeline: what the HPA saw and did."""

    at: float
    replicas: int  # spec.replicas before the sync
    ready: int
    terminating: int
    backlog: float | None  # None: no /metrics page answered
    decision: Decision

    def as_dict(self) -> dict[str, object]:
        proposals = {p.metric: p.replicas for p in self.decision.proposals}
        usage = {p.metric: p.usage for p in self.decision.proposals}
        return {
            "at": round(self.at, 3),
            "replicas": self.replicas,
            "ready": self.ready,
            "terminating": self.terminating,
            "backlog": self.backlog,
            "proposals": proposals,
            "usage_milli_or_percent": usage,
            "metric_desired": self.decision.metric_desired,
            "desired": self.decision.desired,
            "reason": self.decision.reason,
        }


class EmulatedAutoscaler:
    """Owns the worker pods while running (``start`` ... ``stop``); ``metrics_urls`` are the
    other zapq processes to read the backlog from (the API)."""

    def __init__(
        self,
        scaler: WorkerAutoscaler,
        pods: WorkerPods,
        metrics_urls: list[str],
        sync_seconds: float = SYNC_SECONDS,
    ) -> None:
        self.scaler, self.pods, self.sync_seconds = scaler, pods, sync_seconds
        self.controller = HorizontalController(scaler.spec)
        self.replicas = scaler.spec.min_replicas
        self.timeline: list[Sync] = []
        self._urls = metrics_urls
        self._sampler = ResourceSampler()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulated-hpa", daemon=True)
        self._client = httpx.Client(timeout=PROBE_TIMEOUT_SECONDS)

    def start(self, ready_timeout_seconds: float = 60.0) -> None:
        """Start minReplicas pods, wait until they are ready, then begin syncing."""
        self.pods.scale(self.replicas, time.time())
        deadline = time.monotonic() + ready_timeout_seconds
        while sum(1 for p in self.pods.active if p.ready) < self.replicas:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.replicas} worker pods not ready in {ready_timeout_seconds} s"
                )
            time.sleep(0.2)
            self.pods.probe(time.time())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.sync_seconds + 30)
        self.pods.stop()
        self._client.close()

    def _run(self) -> None:
        next_sync = time.time()
        while not self._stop.is_set():
            now = time.time()
            self.pods.probe(now)
            if now >= next_sync:
                self.sync(now)
                # The next sync counts from the end of this one, as the controller's work queue
                # re-adds an HPA resyncPeriod after processing it (horizontal.go,
                # processNextWorkItem). A fixed-rate tick would land a sync exactly one policy
                # period after the previous scale event and, by a few ms either way, count it in
                # that period or not: every other scale-up was refused.
                next_sync = time.time() + self.sync_seconds
            self._stop.wait(min(PROBE_SECONDS, max(0.0, next_sync - time.time())))

    def sync(self, now: float) -> Sync:
        seen, backlog = self.observe(now)
        decision = self.controller.reconcile(seen)
        record = Sync(
            now,
            self.replicas,
            sum(1 for p in self.pods.active if p.ready),
            len(self.pods.pods) - len(self.pods.active),
            backlog,
            decision,
        )
        self.timeline.append(record)
        self.replicas = decision.desired
        self.pods.scale(self.replicas, now)
        return record

    def observe(self, now: float) -> tuple[Observation, float | None]:
        active = self.pods.active
        pages = scrape(self._client, [*self._urls, *(p.url for p in active)])
        backlog = ready_backlog(pages) if pages else None
        spec = self.scaler.spec
        external = {}
        if backlog is not None:  # the chart's only External metric is the ready backlog
            external = {m.name: [milli(backlog)] for m in spec.metrics if m.source == "External"}
        names = [p.name for p in self.pods.pods]
        requests = {
            resource: {name: milli(amount) for name in names}
            for resource, amount in self.scaler.requests.items()
        }
        seen = Observation(
            now,
            self.replicas,
            len(active),
            [p.view() for p in self.pods.pods],
            self._sampler.sample({p.name: p.proc.pid for p in active}, now),
            requests,
            external,
        )
        return seen, backlog
