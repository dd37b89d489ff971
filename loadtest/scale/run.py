"""One scale scenario end to end on this machine: its own redis-server, the Evolution simulator
with one instance per sender (100 ms latency), `zapq api`, the burst pushed through
POST /v1/messages/batch, and the worker pods owned by the emulated HPA. Every process listens on
127.0.0.1 and is stopped by PID at the end."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from loadtest.autoscaler.chart import worker_autoscaler
from loadtest.autoscaler.loop import EmulatedAutoscaler
from loadtest.autoscaler.pods import WorkerPods
from loadtest.autoscaler.sampling import ready_backlog, scrape
from loadtest.bench_pipeline import (
    TEXT,
    _accepted_at_least,
    numbers,
    redis_url,
    sim_messages,
    wait_until,
)
from loadtest.procs import process, simulator, zapq_env
from loadtest.scale.config import API_KEY, RunConfig, Scenario
from service.devstack import free_port
from service.queue import keys

BATCH_ITEMS = 1000  # the API's largest batch
BATCHES_IN_FLIGHT = 4  # concurrent batch requests: the API, not this client, sets the pace
SAMPLE_SECONDS = 1.0  # backlog and replicas are sampled this often for the plots
# The drain must finish within this multiple of the reference time (plus start-up slack) or the
# run fails instead of hanging.
DRAIN_TIMEOUT_FACTOR, DRAIN_TIMEOUT_SLACK_SECONDS = 5.0, 120.0


@dataclass
class Samples:
    """The 1 s series: (seconds since the first enqueue, ready backlog, replicas, ready pods)."""

    rows: list[tuple[float, float | None, int, int]] = field(default_factory=list)


@dataclass
class Outcome:
    """Everything a report needs, times in epoch seconds."""

    scenario: Scenario
    config: RunConfig
    messages: int
    started_at: float
    enqueue_seconds: float
    drained_at: float | None
    ids: list[str]
    statuses: dict[str, int]
    received: list[dict[str, Any]]
    sim_stats: dict[str, Any]
    samples: Samples
    syncs: list[dict[str, Any]]
    exits: list[tuple[str, int, bool]]  # pods that exited while the HPA ran (scale-downs)
    pods_started: int


def run(scenario: Scenario, config: RunConfig, logs: Path) -> Outcome:
    scaler = worker_autoscaler(config.chart_values())
    with redis_url() as redis, simulator(config.latency_ms, config.instances()) as sim:
        api_port = free_port()
        env = zapq_env(redis, sim)
        api_args = ["-m", "service", "api", "--host", "127.0.0.1", "--port", str(api_port)]
        with process(api_args, env, api_port):
            api = f"http://127.0.0.1:{api_port}"
            pods = WorkerPods(lambda n: config.worker_env(redis, sim, n), logs=logs)
            hpa = EmulatedAutoscaler(scaler, pods, [api], config.sync_seconds)
            hpa.start()
            try:
                return asyncio.run(_drive(scenario, config, hpa, api, sim, redis))
            finally:
                hpa.stop()


async def _drive(
    scenario: Scenario, config: RunConfig, hpa: EmulatedAutoscaler, api: str, sim: str, redis: str
) -> Outcome:
    count = config.messages(scenario)
    samples, stop = Samples(), threading.Event()
    started = time.time()
    sampler = threading.Thread(target=_sample, args=(hpa, api, started, samples, stop), daemon=True)
    sampler.start()
    try:
        ids = await enqueue(api, count)
        enqueued = time.time() - started
        timeout = scenario.reference_seconds * DRAIN_TIMEOUT_FACTOR + DRAIN_TIMEOUT_SLACK_SECONDS
        await wait_until(lambda: _accepted_at_least(sim, count), timeout, 0.5)
        drained = time.time()
        await asyncio.sleep(config.tail_seconds)
    finally:
        stop.set()
        sampler.join(10)
    return Outcome(
        scenario, config, count, started, enqueued, drained, ids,
        await statuses(redis, ids), await sim_messages(sim), httpx.get(f"{sim}/_sim/stats").json(),
        samples, [s.as_dict() for s in hpa.timeline], list(hpa.pods.exited),
        hpa.pods.started_count,
    )  # fmt: skip


async def enqueue(api: str, count: int) -> list[str]:
    """``count`` messages in batches of 1,000, a few requests in flight; the accepted ids."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    phones = list(numbers(count))
    slots = asyncio.Semaphore(BATCHES_IN_FLIGHT)
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=120) as client:

        async def post(start: int) -> list[str]:
            batch = [{"to": p, "text": TEXT} for p in phones[start : start + BATCH_ITEMS]]
            async with slots:
                response = await client.post("/v1/messages/batch", json={"messages": batch})
            body = response.json()
            if response.status_code != 202 or body["accepted"] != len(batch):
                raise RuntimeError(f"batch at {start} not accepted: {response.status_code} {body}")
            return [item["id"] for item in body["results"]]

        parts = await asyncio.gather(*(post(s) for s in range(0, count, BATCH_ITEMS)))
    return [message_id for part in parts for message_id in part]


async def statuses(url: str, ids: list[str]) -> dict[str, int]:
    """How many of ``ids`` end in each status (a missing record counts as "missing")."""
    client = Redis.from_url(url)
    counts: dict[str, int] = {}
    try:
        for start in range(0, len(ids), 5000):
            async with client.pipeline(transaction=False) as pipe:
                for message_id in ids[start : start + 5000]:
                    pipe.hget(keys.DEFAULT.message(message_id), "status")
                for status in await pipe.execute():
                    name = status.decode() if status else "missing"
                    counts[name] = counts.get(name, 0) + 1
    finally:
        await client.aclose()
    return counts


def _sample(
    hpa: EmulatedAutoscaler, api: str, started: float, samples: Samples, stop: threading.Event
) -> None:
    with httpx.Client(timeout=2) as client:
        while not stop.is_set():
            pages = scrape(client, [api])
            backlog = ready_backlog(pages) if pages else None
            ready = sum(1 for p in hpa.pods.active if p.ready)
            samples.rows.append((time.time() - started, backlog, hpa.replicas, ready))
            stop.wait(SAMPLE_SECONDS)
