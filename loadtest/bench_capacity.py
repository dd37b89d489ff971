"""Capacity and cost (issue #14, item 7): what one message costs each part, and what N pods need.
Rerun with:

    .venv/bin/python -m loadtest.bench_capacity [--messages 3000] [--out docs/capacity.json]

Measured on this machine, each part its own processes on 127.0.0.1 (stopped by PID):

- send: one `zapq worker` with the chart's defaults (max_jobs 10, 50 msg/s per pod) against the
  Evolution simulator answering in 100 ms, through one sender at the same 50 msg/s (one number
  per pod, the sizing rule's unit); ``--messages`` queued beforehand. Over the steady part (after
  the first 300 sends): the pod's rate, its CPU per message and resident memory, and Redis's CPU
  per message (INFO cpu of the redis-server: take, claim, complete, promote and the idle waits,
  everything the send costs it).
- idle: the same worker with an empty queue for 20 s: its CPU (millicores) and memory.
- enqueue: one `zapq api` taking ``--messages`` through POST /v1/messages (one per request) and
  as many through POST /v1/messages/batch (100 per request): the API's and Redis's CPU per
  message. CPU per message does not depend on the client's speed (a Python client here; the
  throughput figures are loadtest/bench_ingest.py's, with wrk).

From these it prints the sizing table of docs/capacity.md: for 2, 10 and 20 worker pods, the
rate, the senders it takes, vCPU and memory of workers, API and Redis, and a monthly price under
the assumptions stated in ``PRICES`` (change them for your provider).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from loadtest.bench_pipeline import (
    TEXT,
    _accepted,
    _accepted_at_least,
    _feed,
    numbers,
    redis_url,
    wait_until,
)
from loadtest.procs import AUTH, cpu_seconds, process, rss_bytes, simulator, zapq_env
from service.devstack import free_port

# One sender per pod at the pod's own 50 msg/s (the chart's worker.ratePerSecond): the sizing
# rule's unit. (A much faster sender would make a worker rebook every slot it wakes a millisecond
# late for: its send interval would be 1 ms.)
_SENDERS = json.dumps([{"name": "zapq", "rate_per_second": 50, "burst": 100}])
_BATCH = 100

#: Price assumptions, stated not measured: a general-purpose cloud VM on demand, 2026 list price
#: (AWS m7i.large in us-east-1: 2 vCPU, 8 GiB, USD 0.1008 an hour), billed for whichever of CPU or
#: memory a part needs more of, and 730 hours a month.
PRICES = {"vm": "2 vCPU / 8 GiB on demand", "vm_usd_per_hour": 0.1008, "vcpu": 2, "gib": 8}
HOURS_PER_MONTH = 730
#: Redis memory per queued or retained message (docs/benchmarks.md, "memory": 85-character text,
#: hash-max-listpack-value 1024, the record and its recipient index); records stay for their
#: validity plus 7 days of retention.
REDIS_BYTES_PER_MESSAGE = 1261
RETENTION_DAYS = 8
#: The sizing table's rows: worker pods, and the per-sender rates a pool of numbers may send at.
PODS = (2, 10, 20)
SENDER_RATES = {"Cloud API number at 50 msg/s": 50.0, "Baileys number at 1 msg/s": 1.0}
#: What a part is given beyond its measured use: the busy figure is doubled (spikes, a noisy node).
HEADROOM = 2.0
#: API pods in the table: two, for a pod loss (the chart's default); their CPU is per message.
API_REPLICAS = 2


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def send_cost(
    url: str, sim: str, messages: int, idle_seconds: float, warmup_sends: int
) -> dict[str, Any]:
    """One worker draining ``messages``: its steady rate, CPU and memory, and Redis's CPU."""
    await _feed(url, messages)
    redis = Redis.from_url(url)
    env = zapq_env(url, sim, ZAPQ_SENDERS=_SENDERS)
    with process(["-m", "service", "worker"], env) as worker:
        await wait_until(lambda: _accepted_at_least(sim, warmup_sends), 120, 0.05)
        await redis.config_resetstat()
        cpu0, redis0, t0, n0 = (
            cpu_seconds(worker.pid),
            await _redis_cpu(redis),
            time.monotonic(),
            _accepted(sim),
        )
        await wait_until(lambda: _accepted_at_least(sim, messages - 50), 600, 0.05)
        cpu1, redis1, t1, n1 = (
            cpu_seconds(worker.pid),
            await _redis_cpu(redis),
            time.monotonic(),
            _accepted(sim),
        )
        rss = rss_bytes(worker.pid)
        commands = await _commands(redis, n1 - n0)
        await wait_until(lambda: _accepted_at_least(sim, messages), 60, 0.05)
        idle = await _idle(worker.pid, idle_seconds)
    await redis.aclose()
    sent = n1 - n0
    return {
        "sent_measured": sent,
        "pod_rate_msg_per_s": round(sent / (t1 - t0), 1),
        "worker_cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / sent, 3),
        "worker_rss_mb": round(rss / 2**20, 1),
        "redis_cpu_ms_per_message_sent": round((redis1 - redis0) * 1000 / sent, 4),
        "redis_commands_per_message_sent": commands,
        **idle,
    }


async def _commands(redis: Redis, sent: int) -> dict[str, dict[str, float]]:
    """INFO commandstats since the reset, per message sent: calls and microseconds of each
    command (inside scripts too), the busiest first."""
    stats = await redis.info("commandstats")
    per = {
        name.removeprefix("cmdstat_"): {
            "calls": round(row["calls"] / sent, 2),
            "usec": round(row["usec"] / sent, 1),
        }
        for name, row in stats.items()
    }
    return dict(sorted(per.items(), key=lambda item: -item[1]["usec"]))


async def _idle(pid: int, seconds: float) -> dict[str, Any]:
    await asyncio.sleep(2)  # the last jobs' bookkeeping settles
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    return {
        "idle_worker_millicores": round((cpu1 - cpu0) / (t1 - t0) * 1000, 1),
        "idle_worker_rss_mb": round(rss_bytes(pid) / 2**20, 1),
    }


async def enqueue_cost(url: str, messages: int) -> dict[str, Any]:
    """The API's and Redis's CPU per message, single POSTs and batches of 100."""
    port = free_port()
    env = zapq_env(url, "http://127.0.0.1:9")
    redis = Redis.from_url(url)
    result: dict[str, Any] = {}
    with process(["-m", "service", "api", "--port", str(port)], env, port) as api:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=30
        ) as client:
            await _post_all(client, "single", 200)  # warm-up: imports, first connections
            for kind in ("single", "batch"):
                cpu0, redis0 = cpu_seconds(api.pid), await _redis_cpu(redis)
                await _post_all(client, kind, messages)
                cpu1, redis1 = cpu_seconds(api.pid), await _redis_cpu(redis)
                result[f"api_cpu_ms_per_message_{kind}"] = round((cpu1 - cpu0) * 1000 / messages, 4)
                result[f"redis_cpu_ms_per_message_enqueued_{kind}"] = round(
                    (redis1 - redis0) * 1000 / messages, 4
                )
            result["api_rss_mb"] = round(rss_bytes(api.pid) / 2**20, 1)
    await redis.aclose()
    return result


async def _post_all(client: httpx.AsyncClient, kind: str, messages: int) -> None:
    """``messages`` distinct recipients, 8 requests in flight."""
    phones = list(numbers(messages, start=int(time.time() * 1000) % 10_000_000))
    size = 1 if kind == "single" else _BATCH
    chunks = [phones[i : i + size] for i in range(0, messages, size)]
    path = "/v1/messages" if kind == "single" else "/v1/messages/batch"
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def loop() -> None:
        while not queue.empty():
            chunk = queue.get_nowait()
            items = [{"to": phone, "text": TEXT} for phone in chunk]
            body = items[0] if kind == "single" else {"messages": items}
            response = await client.post(path, json=body)
            assert response.status_code == 202, response.text

    await asyncio.gather(*(loop() for _ in range(8)))


def sizing(measured: dict[str, Any]) -> list[dict[str, Any]]:
    """The capacity table: per row of PODS, what the pods send and the CPU and memory it takes
    (Redis's memory is not here: it follows the daily volume, see redis_memory())."""
    send, enqueue = measured["send"], measured["enqueue"]
    pod_rate = send["pod_rate_msg_per_s"]
    pod_cpu = send["worker_cpu_ms_per_message"] * pod_rate / 1000
    redis_ms = (
        send["redis_cpu_ms_per_message_sent"] + enqueue["redis_cpu_ms_per_message_enqueued_batch"]
    )
    rows = []
    for pods in PODS:
        rate = pods * pod_rate
        cpu = {
            "workers": pods * pod_cpu,
            "api": rate * enqueue["api_cpu_ms_per_message_batch"] / 1000,
            "redis": rate * redis_ms / 1000,
        }
        memory_gib = (pods * send["worker_rss_mb"] + API_REPLICAS * enqueue["api_rss_mb"]) / 1024
        total = sum(cpu.values())
        rows.append(
            {
                "worker_pods": pods,
                "msg_per_s": round(rate),
                "senders": {name: math.ceil(rate / per) for name, per in SENDER_RATES.items()},
                **{f"vcpu_{part}": round(value, 2) for part, value in cpu.items()},
                "vcpu_total": round(total, 2),
                "memory_gib": round(memory_gib, 2),
                "usd_per_month": _usd(total * HEADROOM, memory_gib * HEADROOM),
            }
        )
    return rows


def redis_memory(messages_per_day: int = 1_000_000) -> dict[str, Any]:
    """Redis's memory for a daily volume: every record stays its validity plus the retention."""
    gib = messages_per_day * RETENTION_DAYS * REDIS_BYTES_PER_MESSAGE / 2**30
    return {
        "messages_per_day": messages_per_day,
        "gib": round(gib, 1),
        "usd_per_month": _usd(0, gib),
    }


def _usd(vcpu: float, gib: float) -> int:
    """Monthly price of the VMs (PRICES) a part needs: whichever of CPU or memory needs more."""
    vms = max(vcpu / PRICES["vcpu"], gib / PRICES["gib"])
    return round(vms * PRICES["vm_usd_per_hour"] * HOURS_PER_MONTH)


async def measure(
    messages: int,
    idle_seconds: float = 20.0,
    warmup_sends: int = 300,
    enqueued: int | None = None,
) -> dict[str, Any]:
    """``enqueued``: messages per enqueue case (default ``messages``). CPU times come from
    /proc in 10-ms ticks: a batch case needs a few thousand messages to span several."""
    with redis_url() as url, simulator(latency_ms=100) as sim:
        send = await send_cost(url, sim, messages, idle_seconds, warmup_sends)
        flush = Redis.from_url(url)
        await flush.flushdb()
        await flush.aclose()
        enqueue = await enqueue_cost(url, enqueued or messages)
    return {"send": send, "enqueue": enqueue}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--out", type=Path, help="write the figures and the table here (JSON)")
    args = parser.parse_args()
    measured = asyncio.run(measure(args.messages))
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}",
        "measured": measured,
        "assumptions": {
            "prices": PRICES,
            "headroom": HEADROOM,
            "redis_bytes_per_message": REDIS_BYTES_PER_MESSAGE,
            "retention_days": RETENTION_DAYS,
            "api_replicas": API_REPLICAS,
        },
        "sizing": sizing(measured),
        "redis_memory": redis_memory(),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
