"""Scrape cost of one worker's /metrics (issue: observability). Rerun with:

    .venv/bin/python -m loadtest.bench_metrics                 # ~10 s; figures print as JSON

The metric objects of service.metrics are filled in-process with the label sets a worker exports:
"typical" (sent plus the error classes a normal day shows) and "every" (every bounded label value a
worker can ever produce: the worst case). For each it counts the series (sample lines) and bytes of
the page and times prometheus_client's generate_latest(), which is what /metrics runs per scrape.
Results: docs/benchmarks.md, "Observability".
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections import Counter
from typing import Any

import prometheus_client
from prometheus_client import REGISTRY, generate_latest

from service import metrics
from service.evolution.errors import EvolutionError
from service.queue.keys import PRIORITIES


def error_classes() -> tuple[list[str], list[str]]:
    """(retryable, final) error classes of the Evolution error tree."""
    seen: dict[str, bool] = {}
    pending = list(EvolutionError.__subclasses__())
    while pending:
        cls = pending.pop()
        seen[cls.error_class] = cls.retryable
        pending += cls.__subclasses__()
    return sorted(c for c, r in seen.items() if r), sorted(c for c, r in seen.items() if not r)


def populate(retryable: list[str], final: list[str]) -> None:
    """Touch every label set a worker produces with these error classes (values are arbitrary)."""
    for priority in PRIORITIES:
        metrics.SENT.labels(priority).inc(1000)
        metrics.ENQUEUE_TO_SENT.labels(priority).observe(0.4)
        metrics.EXPIRED.labels(priority).inc()
        metrics.REDELIVERED.labels(priority).inc()
        for error_class in final:
            metrics.FAILED.labels(priority, error_class).inc()
        for error_class in retryable:
            metrics.RETRIED.labels(priority, error_class).inc()
        for error_class in [*retryable, "redelivery_limit"]:
            metrics.DEAD.labels(priority, error_class).inc()
        metrics.QUEUE_READY.labels(priority).set(10)
        metrics.QUEUE_OLDEST_AGE.labels(priority).set(1.5)
    for outcome in ["sent", *retryable, *final]:
        metrics.EVOLUTION_REQUESTS.labels(outcome).inc()
        metrics.EVOLUTION_DURATION.labels(metrics.duration_outcome(outcome)).observe(0.1)
    metrics.LIMITER_WAIT.observe(0.01)
    metrics.WORKER_MAX_JOBS.set(10)
    metrics.WORKER_IN_FLIGHT.set(3)
    for gauge in (metrics.QUEUE_SCHEDULED, metrics.QUEUE_RETRYING, metrics.QUEUE_IN_FLIGHT):
        gauge.set(5)
    metrics.QUEUE_DEAD.set(2)
    metrics.SCHEDULE_LAST_RUN.set(time.time())
    metrics.SCHEDULE_LAST_SUCCESS.set(time.time())
    metrics.SCHEDULE_LAST_FAILED.set(0)


def measure(iterations: int) -> dict[str, Any]:
    page = generate_latest(REGISTRY)
    series = [line for line in page.decode().splitlines() if line and not line.startswith("#")]
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        generate_latest(REGISTRY)
        timings.append(time.perf_counter() - started)
    timings.sort()
    families = Counter(_family(line) for line in series)
    return {
        "series": len(series),
        "zapq_series": sum(1 for line in series if line.startswith("zapq_")),
        "created_series": sum(1 for line in series if "_created" in line.split("{")[0]),
        "page_bytes": len(page),
        "render_ms_median": round(statistics.median(timings) * 1000, 3),
        "render_ms_p99": round(timings[int(len(timings) * 0.99)] * 1000, 3),
        "largest_families": dict(families.most_common(5)),
    }


def _family(line: str) -> str:
    name = line.split("{")[0].split(" ")[0]
    for suffix in ("_bucket", "_sum", "_count"):
        name = name.removesuffix(suffix)
    return name


def run(iterations: int) -> dict[str, Any]:
    retryable, final = error_classes()
    # A normal day: mostly sent, some timeouts, 5xx and closed sockets, a few unknown numbers.
    typical = (["timeout", "server_error", "instance_unavailable"], ["invalid_recipient"])
    results: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    populate(*typical)
    results["typical"] = measure(iterations)
    populate(retryable, final)
    results["every"] = measure(iterations)
    prometheus_client.enable_created_metrics()
    results["every_with_created"] = measure(iterations)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=2000, help="renders timed per case")
    print(json.dumps(run(parser.parse_args().iterations), indent=2))


if __name__ == "__main__":
    main()
