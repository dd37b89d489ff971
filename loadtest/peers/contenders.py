"""The contenders: how each one enqueues the messages and how one of its worker processes starts.

Every contender gets the same Run: its own Redis, the one simulator, the same messages file, the
same worker count, concurrency and shared limit. Their configurations, and the docs each one
follows, are in README.md beside this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtest.peers import toolchain
from loadtest.procs import AUTH, process, zapq_env
from service.devstack import free_port

#: The simulator's default global key and instance (service/sim/config.py).
EVOLUTION_API_KEY = "evo-key"
EVOLUTION_INSTANCE = "zapq"
#: The API's batch route takes up to 1,000 items per request (ApiSettings.max_batch_items).
_BATCH_ITEMS = 1000


@dataclass(frozen=True)
class Run:
    redis_url: str
    sim_url: str
    messages_file: Path
    workers: int
    concurrency: int
    rate_per_second: int
    burst: int


@dataclass(frozen=True)
class Command:
    args: list[str]
    env: dict[str, str]
    cwd: Path = toolchain.REPO


@dataclass(frozen=True)
class Contender:
    name: str
    #: The configuration it runs with, for the report: a format string over Run's fields.
    config: str
    #: Queues every message (workers are not running yet); returns the seconds the queueing took,
    #: client start-up excluded.
    enqueue: Callable[[Run], float]
    worker: Callable[[Run, int], Command]


# -- zapq ----------------------------------------------------------------------------------------


def _zapq_env(run: Run, rate_per_worker: float, senders: bool) -> dict[str, str]:
    extra = {
        "ZAPQ_WORKER__MAX_JOBS": str(run.concurrency),
        "ZAPQ_WORKER__RATE_PER_SECOND": str(rate_per_worker),
        "ZAPQ_WORKER__RATE_BURST": str(run.burst),
    }
    if senders:
        # The sender pool: one limit every worker shares through Redis.
        sender = {"name": "s1", "instance": EVOLUTION_INSTANCE}
        sender |= {"rate_per_second": run.rate_per_second, "burst": run.burst}
        extra["ZAPQ_SENDERS"] = json.dumps([sender])
    return zapq_env(run.redis_url, run.sim_url, **extra)


def _zapq_enqueue(run: Run) -> float:
    """Through the API's batch route, as a client would; the API is stopped before the workers
    start, so it adds neither CPU nor Redis commands to what is measured."""
    messages = json.loads(run.messages_file.read_text())
    port = free_port()
    env = _zapq_env(run, run.rate_per_second, senders=True)
    with (
        process(["-m", "service", "api", "--port", str(port)], env, port),
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers=AUTH,
            timeout=60,
        ) as api,
    ):
        started = time.monotonic()
        for start in range(0, len(messages), _BATCH_ITEMS):
            items = [
                {"to": f"+{m['number']}", "text": m["text"]}
                for m in messages[start : start + _BATCH_ITEMS]
            ]
            response = api.post("/v1/messages/batch", json={"messages": items})
            if response.status_code != 202 or response.json()["accepted"] != len(items):
                raise RuntimeError(f"zapq refused a batch: {response.status_code} {response.text}")
        return time.monotonic() - started


def _zapq_worker(shared: bool) -> Callable[[Run, int], Command]:
    def command(run: Run, index: int) -> Command:
        rate = run.rate_per_second if shared else run.rate_per_second / run.workers
        env = _zapq_env(run, rate, senders=shared)
        return Command([sys.executable, "-m", "service", "worker"], env)

    return command


# -- the peers -----------------------------------------------------------------------------------


def _peers_env(run: Run) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(toolchain.REPO),
        PEERS_REDIS_URL=run.redis_url,
        PEERS_SIM_URL=run.sim_url,
        PEERS_RATE_PER_SECOND=str(run.rate_per_second),
        PEERS_WORKER_RATE_PER_SECOND=str(run.rate_per_second / run.workers),
        PEERS_CONCURRENCY=str(run.concurrency),
        PEERS_EVOLUTION_API_KEY=EVOLUTION_API_KEY,
        PEERS_EVOLUTION_INSTANCE=EVOLUTION_INSTANCE,
    )
    return env


def _enqueue_with(command: Command) -> float:
    """Run a peer's enqueue command; it prints ``{"enqueued": n, "seconds": s}`` last."""
    result = subprocess.run(command.args, env=command.env, cwd=command.cwd, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command.args)} failed:\n{result.stderr.decode()}")
    seconds: float = json.loads(result.stdout.decode().splitlines()[-1])["seconds"]
    return seconds


def _python_enqueue(module: str) -> Callable[[Run], None]:
    def enqueue(run: Run) -> float:
        args = [str(toolchain.peers_python()), "-m", module, "enqueue", str(run.messages_file)]
        return _enqueue_with(Command(args, _peers_env(run)))

    return enqueue


def _celery_worker(run: Run, index: int) -> Command:
    args = [str(toolchain.peers_python()), "-m", "celery", "-A", "loadtest.peers.celery_app"]
    args += ["worker", "-P", "threads", "-c", str(run.concurrency), "-n", f"w{index}@%h"]
    return Command([*args, "--loglevel", "WARNING"], _peers_env(run))


def _dramatiq_worker(run: Run, index: int) -> Command:
    args = [str(toolchain.peers_python()), "-m", "dramatiq", "loadtest.peers.dramatiq_app"]
    return Command([*args, "--processes", "1", "--threads", str(run.concurrency)], _peers_env(run))


def _bullmq_enqueue(run: Run) -> float:
    args = [toolchain.node(), "bench.mjs", "enqueue", str(run.messages_file)]
    return _enqueue_with(Command(args, _peers_env(run), toolchain.BULLMQ_DIR))


def _bullmq_worker(run: Run, index: int) -> Command:
    return Command([toolchain.node(), "bench.mjs", "worker"], _peers_env(run), toolchain.BULLMQ_DIR)


CONTENDERS = {
    c.name: c
    for c in (
        Contender(
            "zapq",
            "max_jobs {concurrency}; ZAPQ_SENDERS: one sender shared by all, "
            "{rate_per_second} msg/s, burst {burst}; "
            "each worker's own cap {rate_per_second} msg/s, burst {burst}",
            _zapq_enqueue,
            _zapq_worker(shared=True),
        ),
        Contender(
            "zapq-split",
            "max_jobs {concurrency}; no pool, each worker's own limiter split like Celery's: "
            "{rate_per_second}/{workers} msg/s, burst {burst} each",
            _zapq_enqueue,
            _zapq_worker(shared=False),
        ),
        Contender(
            "celery",
            "-P threads -c {concurrency}; rate_limit {rate_per_second}/{workers} per worker; "
            "acks_late, prefetch multiplier 1",
            _python_enqueue("loadtest.peers.celery_app"),
            _celery_worker,
        ),
        Contender(
            "dramatiq",
            "--threads {concurrency}; WindowRateLimiter(limit {rate_per_second}, window 1 s) in "
            "Redis; over it: Retries middleware defaults",
            _python_enqueue("loadtest.peers.dramatiq_app"),
            _dramatiq_worker,
        ),
        Contender(
            "bullmq",
            "Worker concurrency {concurrency}; queue.setGlobalRateLimit({rate_per_second}, 1000)",
            _bullmq_enqueue,
            _bullmq_worker,
        ),
    )
}
DEFAULT = ["zapq", "celery", "dramatiq", "bullmq"]
