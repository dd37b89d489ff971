"""The HPA's inputs read from the live processes: the ready backlog from every zapq /metrics page
(what prometheus-adapter's and KEDA's query computes from Prometheus), CPU and memory per worker
pod from /proc (what metrics-server reports from the kubelet)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from loadtest.autoscaler.controller import milli
from loadtest.autoscaler.replicas import PodMetric
from loadtest.procs import cpu_seconds, rss_bytes

BACKLOG_METRIC = "zapq_queue_ready_messages"


def ready_backlog(pages: list[str]) -> float:
    """sum(max by (priority) (zapq_queue_ready_messages)) over the pages: every process exports
    the same queue gauges, refreshed every few seconds, so the freshest-highest per priority."""
    by_priority: dict[str, float] = {}
    for page in pages:
        for family in text_string_to_metric_families(page):
            if family.name != BACKLOG_METRIC:
                continue
            for sample in family.samples:
                priority = sample.labels.get("priority", "")
                by_priority[priority] = max(by_priority.get(priority, 0.0), sample.value)
    return sum(by_priority.values())


def scrape(client: httpx.Client, urls: list[str]) -> list[str]:
    """The /metrics pages that answered (a pod that is starting or gone is skipped, as a failed
    Prometheus scrape is)."""
    pages = []
    for url in urls:
        with contextlib.suppress(httpx.HTTPError):
            response = client.get(f"{url}/metrics")
            if response.status_code == 200:
                pages.append(response.text)
    return pages


@dataclass
class ResourceSampler:
    """CPU as metrics-server reports it: the usage rate over the window since the previous sample
    of that pod (no sample on a pod's first scrape); memory as the resident set."""

    _last: dict[int, tuple[float, float]] = field(default_factory=dict)

    def sample(self, pids: dict[str, int], now: float) -> dict[str, dict[str, PodMetric]]:
        """{"cpu": {pod: millicores}, "memory": {pod: milli-bytes}} of the pods still alive."""
        cpu: dict[str, PodMetric] = {}
        memory: dict[str, PodMetric] = {}
        for name, pid in pids.items():
            try:
                used, rss = cpu_seconds(pid), rss_bytes(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
            previous = self._last.get(pid)
            self._last[pid] = (used, now)
            memory[name] = PodMetric(milli(rss), now)
            if previous is not None and now > previous[1]:
                window = now - previous[1]
                cpu[name] = PodMetric(milli((used - previous[0]) / window), now, window)
        return {"cpu": cpu, "memory": memory}
