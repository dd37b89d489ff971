"""Worker "pods": real `python -m service worker` processes the emulated HPA starts and SIGTERMs.

A pod is Running from its start and Ready once its /readyz answers 200 (the chart's readiness
probe); scaling down SIGTERMs the newest pods first (the ReplicaSet's choice among equally ready
pods: the most recently ready go first), which makes the worker drain; a pod that outlives the
grace period is SIGKILLed like the kubelet does after terminationGracePeriodSeconds.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loadtest.autoscaler.replicas import Pod
from service.devstack import free_port

# The chart's worker terminationGracePeriodSeconds: drain (25 s) + 15 s for the hand-back.
GRACE_SECONDS = 40.0
# /readyz answers in milliseconds; a probe that takes longer counts as not ready (the chart's
# timeoutSeconds is 2).
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass
class WorkerPod:
    name: str
    proc: subprocess.Popen[bytes]
    metrics_port: int
    started_at: float
    ready: bool | None = None
    ready_changed_at: float | None = None
    terminating_since: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def view(self) -> Pod:
        """The pod as the HPA controller sees it."""
        return Pod(
            self.name,
            self.started_at,
            "Running",
            self.ready,
            self.ready_changed_at,
            deleting=self.terminating_since is not None,
        )


def newest_first(active: list[WorkerPod], count: int) -> list[WorkerPod]:
    """The ``count`` most recently started pods (none when ``count`` <= 0): the ones a scale-down
    removes."""
    if count <= 0:
        return []
    return sorted(active, key=lambda p: p.started_at, reverse=True)[:count]


@dataclass
class WorkerPods:
    """The worker Deployment: ``env_for(ordinal)`` gives each new pod its environment (metrics
    port and host are added here); logs go to ``logs`` when set."""

    env_for: Callable[[int], dict[str, str]]
    logs: Path | None = None
    grace_seconds: float = GRACE_SECONDS
    pods: list[WorkerPod] = field(default_factory=list)
    # (pod, exit code, whether it had been SIGTERMed by a scale-down) of every pod that exited.
    exited: list[tuple[str, int, bool]] = field(default_factory=list)
    _ordinal: int = 0
    _client: httpx.Client = field(
        default_factory=lambda: httpx.Client(timeout=PROBE_TIMEOUT_SECONDS)
    )

    @property
    def started_count(self) -> int:
        """Pods started so far (a churning autoscaler shows here)."""
        return self._ordinal

    @property
    def active(self) -> list[WorkerPod]:
        """Pods not being deleted: the Deployment's status.replicas."""
        return [p for p in self.pods if p.terminating_since is None]

    def scale(self, replicas: int, now: float) -> None:
        """Start or SIGTERM pods until ``replicas`` are active (newest terminated first)."""
        active = self.active
        for _ in range(replicas - len(active)):
            self._start(now)
        for pod in newest_first(active, len(active) - replicas):
            pod.proc.send_signal(signal.SIGTERM)
            pod.terminating_since = now

    def _start(self, now: float) -> None:
        ordinal, self._ordinal = self._ordinal, self._ordinal + 1
        port = free_port()
        env = {**self.env_for(ordinal), "ZAPQ_METRICS__PORT": str(port)}
        env["ZAPQ_METRICS__HOST"] = "127.0.0.1"
        name = f"zapq-worker-{ordinal}"
        out = (self.logs / f"{name}.log").open("wb") if self.logs else subprocess.DEVNULL
        try:
            args = [sys.executable, "-m", "service", "worker"]
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        finally:
            if self.logs:
                out.close()  # type: ignore[union-attr]
        self.pods.append(WorkerPod(name, proc, port, now))

    def probe(self, now: float) -> None:
        """Readiness of every active pod; reap pods that exited; SIGKILL past the grace period."""
        for pod in list(self.pods):
            if pod.proc.poll() is not None:
                self.pods.remove(pod)
                self.exited.append(
                    (pod.name, pod.proc.returncode, pod.terminating_since is not None)
                )
            elif pod.terminating_since is not None:
                if now - pod.terminating_since > self.grace_seconds:
                    pod.proc.kill()
            else:
                self._probe_ready(pod, now)

    def _probe_ready(self, pod: WorkerPod, now: float) -> None:
        ready = False
        with contextlib.suppress(httpx.HTTPError):
            ready = self._client.get(f"{pod.url}/readyz").status_code == 200
        if ready != pod.ready:
            pod.ready, pod.ready_changed_at = ready, now

    def stop(self, timeout_seconds: float = GRACE_SECONDS) -> None:
        """SIGTERM every pod, wait for all (bounded), SIGKILL what is left."""
        for pod in self.pods:
            if pod.proc.poll() is None and pod.terminating_since is None:
                pod.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_seconds
        for pod in self.pods:
            with contextlib.suppress(subprocess.TimeoutExpired):
                pod.proc.wait(max(0.0, deadline - time.monotonic()))
            if pod.proc.poll() is None:
                pod.proc.kill()
                pod.proc.wait(5)
        self.pods.clear()
        self._client.close()
