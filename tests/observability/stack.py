"""The local stack as real processes (Redis, the simulator, the API, two workers) and a real
Prometheus scraping them every second, for the end-to-end observability test.

Every target gets the `namespace` and `pod` labels a Kubernetes ServiceMonitor or PodMonitor would
add, with pod names as the chart makes them, so the dashboards' `$namespace` / `$release` filters
are exercised as they are in a cluster.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from loadtest.procs import zapq_env
from service.devstack import free_port, redis_server, stop_process, wait_for_port

NAMESPACE = "zapq-e2e"
RELEASE = "zapq"
API_KEY = "e2e-key-5f0c2a9be7d14c38a6b1f09d2e7c4b15"
# The pool: one sender (the simulator's instance) with a daily limit, so that every per-sender
# series exists; the limit is far above what the test sends.
SENDER = "zapq"
SENDERS = json.dumps([{"name": SENDER, "rate_per_second": 50, "burst": 10, "daily_limit": 100_000}])
# The breaker never opens here: the test drives faults on purpose (5xx, closed sockets, a poison
# message rerouted until the sender has sent something else), and an open breaker would hold the
# whole pool for its 30 s open spell. Its logic is tested in tests/senders/test_routing.py.
NO_BREAKER = "1000000"
# Short retries, no jitter: a failing message is retried twice and dead-lettered within a second.
RETRY_DELAYS = "0.2,0.4"


@dataclass
class Stack:
    redis_url: str
    api: str
    sim: str
    prometheus: str
    env: dict[str, str] = field(default_factory=dict)  # the zapq processes' environment
    metrics: dict[str, str] = field(default_factory=dict)  # pod name -> /metrics URL

    def sim_stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.sim}/_sim/stats").json())

    def configure_sim(self, **knobs: Any) -> None:
        httpx.post(f"{self.sim}/_sim/config", json=knobs).raise_for_status()


def prometheus_config(targets: dict[str, tuple[str, int]], rule_files: list[Path]) -> str:
    """Scrape every second; targets: pod name -> (job, port)."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for pod, (job, port) in targets.items():
        labels = {"namespace": NAMESPACE, "pod": pod}
        jobs.setdefault(job, []).append({"targets": [f"127.0.0.1:{port}"], "labels": labels})
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": static} for job, static in jobs.items()
        ],
    }
    return yaml.safe_dump(config)


def _env(redis_url: str, sim: str) -> dict[str, str]:
    return zapq_env(
        redis_url,
        sim,
        ZAPQ_API_KEYS=API_KEY,
        ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS="5",
        ZAPQ_WORKER__RETRY_DELAYS_SECONDS=RETRY_DELAYS,
        ZAPQ_WORKER__RETRY_JITTER_RATIO="0",
        ZAPQ_WORKER__POLL_DELAY_SECONDS="0.01",
        ZAPQ_WORKER__STATS_INTERVAL_SECONDS="0.5",
        ZAPQ_WORKER__JOB_TIMEOUT_SECONDS="15",
        ZAPQ_SENDERS=SENDERS,
        ZAPQ_POOL__BREAKER_FAILURES=NO_BREAKER,
        ZAPQ_POOL__BREAKER_MIN_REQUESTS=NO_BREAKER,
    )


class Processes:
    """Children started by this test, stopped by PID in reverse order; logs under ``logs``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Any:
        with (self.logs / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.started.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.started):
            stop_process(proc, timeout_seconds=30)


@contextlib.contextmanager
def running_stack(tmp: Path, rule_files: list[Path]) -> Iterator[Stack]:
    python = [sys.executable, "-m"]
    procs = Processes(tmp)
    with redis_server(tmp / "redis") as redis_url:
        try:
            sim_port, api_port, prom_port = free_port(), free_port(), free_port()
            sim = procs.start("sim", [*python, "service.sim", "--port", str(sim_port)])
            wait_for_port(sim_port, timeout_seconds=30, proc=sim)
            sim_url = f"http://127.0.0.1:{sim_port}"
            env = _env(redis_url, sim_url)
            api_args = ["service", "api", "--host", "127.0.0.1", "--port", str(api_port)]
            api = procs.start("api", [*python, *api_args], env)
            targets = {f"{RELEASE}-api-7d4b9c6f5-x2x9q": ("zapq-api", api_port)}
            for suffix in ("6c8d7f9b4-k7p2m", "6c8d7f9b4-q9z4t"):
                port = free_port()
                worker_env = {**env, "ZAPQ_METRICS__PORT": str(port)}
                worker_env["ZAPQ_METRICS__HOST"] = "127.0.0.1"
                procs.start(f"worker-{suffix}", [*python, "service", "worker"], worker_env)
                targets[f"{RELEASE}-worker-{suffix}"] = ("zapq-worker", port)
            config = tmp / "prometheus.yml"
            config.write_text(prometheus_config(targets, rule_files))
            prom = procs.start("prometheus", _prometheus_args(config, tmp / "tsdb", prom_port))
            for port in [api_port, *(port for _, port in targets.values())]:
                wait_for_port(port, timeout_seconds=30, proc=api if port == api_port else None)
            wait_for_port(prom_port, timeout_seconds=30, proc=prom)
            stack = Stack(
                redis_url, f"http://127.0.0.1:{api_port}", sim_url, f"http://127.0.0.1:{prom_port}"
            )
            stack.env = env
            stack.metrics = {
                pod: f"http://127.0.0.1:{port}/metrics" for pod, (_, port) in targets.items()
            }
            _wait_scraped(stack.prometheus, len(targets))
            yield stack
        finally:
            procs.stop()


def _prometheus_args(config: Path, tsdb: Path, port: int) -> list[str]:
    return [
        "prometheus",
        f"--config.file={config}",
        f"--storage.tsdb.path={tsdb}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]


def _wait_scraped(prometheus: str, targets: int, timeout_seconds: float = 30) -> None:
    """Until every target has been scraped: Prometheus applies discovered targets only every 5 s,
    so its first scrape comes seconds after it answers HTTP."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, KeyError, IndexError):
            if query(prometheus, "count(up == 1)")[0]["value"][1] == str(targets):
                return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus did not scrape {targets} targets in {timeout_seconds} s")


def query(prometheus: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """An instant query through Prometheus's HTTP API; raises on a parse or evaluation error."""
    params: dict[str, Any] = {"query": expr}
    if at is not None:
        params["time"] = at
    body = httpx.get(f"{prometheus}/api/v1/query", params=params).json()
    if body["status"] != "success":
        raise AssertionError(f"{body.get('errorType')}: {body.get('error')}\n  in: {expr}")
    return list(body["data"]["result"])
