"""loadtest/locustfile.py runs: locust headless for a few seconds against a real stack (Redis, the
simulator, `zapq api` and one `zapq worker` as processes), with no failure, requests of every
kind, and the end-to-end "enqueue->sent" samples it reports through locust's events."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from loadtest.procs import zapq_env
from service.devstack import free_port, wait_for_port
from tests.observability.stack import Processes

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "locust-key-8d3e61f0a2b94c7e9f15c06ab3d2e847"
# Locust itself runs 5 s; start-up, the stop of 5 users and the summary take a few more.
LOCUST_TIMEOUT_SECONDS = 60


@pytest.fixture
def api(redis: Redis, redis_url: str, sim: Any, tmp_path: Path) -> Iterator[str]:
    """The API and one worker on a flushed database; the worker's limiter is opened wide so the
    first sampled messages are sent while locust still runs, whatever it queued behind them."""
    env = zapq_env(
        redis_url,
        sim.url,
        ZAPQ_API_KEYS=API_KEY,
        ZAPQ_LOG_LEVEL="WARNING",
        ZAPQ_WORKER__RATE_PER_SECOND="10000",
        ZAPQ_WORKER__RATE_BURST="10000",
        ZAPQ_WORKER__MAX_JOBS="50",
    )
    procs = Processes(tmp_path)
    port = free_port()
    try:
        python = [sys.executable, "-m", "service"]
        api = procs.start("api", [*python, "api", "--host", "127.0.0.1", "--port", str(port)], env)
        procs.start("worker", [*python, "worker"], env)
        wait_for_port(port, timeout_seconds=30, proc=api)
        yield f"http://127.0.0.1:{port}"
    finally:
        procs.stop()


def run_locust(host: str, tmp_path: Path) -> list[dict[str, Any]]:
    stats = tmp_path / "stats.json"
    args = [
        *(sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py")),
        *("--headless", "-u", "5", "-r", "5", "-t", "5s", "--only-summary"),
        *("--host", host, "--json-file", str(stats.with_suffix(""))),
    ]
    env = {**zapq_env("redis://unused", "http://unused"), "ZAPQ_LOADTEST_API_KEY": API_KEY}
    env["ZAPQ_LOADTEST_E2E_SAMPLE_EVERY"] = "2"
    done = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=LOCUST_TIMEOUT_SECONDS
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(stats.read_text()))


def test_locust_runs_headless_without_failures(api: str, tmp_path: Path) -> None:
    entries = {(e["method"], e["name"]): e for e in run_locust(api, tmp_path)}
    failures = {name: e["num_failures"] for name, e in entries.items() if e["num_failures"]}
    assert failures == {}
    assert entries["POST", "/v1/messages"]["num_requests"] > 0
    assert entries["POST", "/v1/messages/batch"]["num_requests"] > 0
    e2e = entries["E2E", "enqueue->sent"]
    assert e2e["num_requests"] > 0
    assert e2e["total_response_time"] > 0  # a real duration came from the message resource
