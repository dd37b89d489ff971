"""Core pipeline benchmarks (issue: core pipeline). Rerun with:

    .venv/bin/python -m loadtest.bench_pipeline all     # everything, ~6 minutes
    .venv/bin/python -m loadtest.bench_pipeline drain   # or one of: cpu urgent memory

API ingest is measured by loadtest/bench_ingest.py (wrk).

Everything runs on this machine: its own redis-server, the Evolution simulator, `zapq api` and
`zapq worker` processes, all on 127.0.0.1 and stopped by PID at the end. Figures print as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
from redis.asyncio import Redis

from loadtest.procs import AUTH, cpu_seconds, process, rss_bytes, simulator, zapq_env
from service.devstack import free_port, redis_server
from service.queue import keys
from service.queue.models import NewMessage
from service.queue.store import MessageQueue
from service.settings import Settings

TEXT = (
    "Olá Maria, sua fatura de R$ 1.234,56 vence em 25/11/2026. Pague pelo PIX: 00020126..."  # ~90
)


def numbers(count: int, start: int = 0) -> Iterator[str]:
    """Distinct valid Brazilian mobile numbers."""
    for index in range(start, start + count):
        yield f"+5511{900000000 + index}"


@contextmanager
def redis_url() -> Iterator[str]:
    with redis_server(Path(mkdtemp(prefix="zapq-bench-"))) as url:
        yield url


async def wait_until(predicate: Any, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval)
    raise TimeoutError("benchmark did not finish in time")


async def sim_messages(sim: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=sim) as client:
        while True:
            page = (
                await client.get("/_sim/messages", params={"offset": len(out), "limit": 5000})
            ).json()
            if not page:
                return out
            out += page


async def records(redis: Redis) -> list[dict[bytes, bytes]]:
    ids = [key async for key in redis.scan_iter("{zapq}:msg:*", count=1000)]
    async with redis.pipeline(transaction=False) as pipe:
        for key in ids:
            pipe.hmget(key, "status", "worker", "dispatched_at")
        rows = await pipe.execute()
    return [{b"status": r[0], b"worker": r[1], b"dispatched_at": r[2]} for r in rows]


def after_burst(times: list[float], burst: int) -> list[float]:
    """The sends after a worker's banked burst: the bank starts full and does not refill while the
    worker is busy (service/limits/token_bucket.py), so the burst is its first ``burst`` sends."""
    return sorted(times)[burst:]


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


# -- 1 + 2: drain 10,000 with two workers, limiter accuracy ---------------------------------------


# Two numbers at the product's 50 msg/s, with a worker's burst: the pool's 100 msg/s is what two
# workers may send (with one number the drain runs at that number's 50 msg/s, whatever the pods).
DRAIN_SENDERS = [{"name": f"s{i}", "rate_per_second": 50, "burst": 100} for i in (1, 2)]


async def drain(total: int = 10_000, workers: int = 2) -> dict[str, Any]:
    names = [sender["name"] for sender in DRAIN_SENDERS]
    with redis_url() as url, simulator(latency_ms=100, instances=names) as sim:
        api_port = free_port()
        env = zapq_env(url, sim, ZAPQ_SENDERS=json.dumps(DRAIN_SENDERS))
        with process(["-m", "service", "api", "--port", str(api_port)], env, api_port):
            worker_procs = [process(["-m", "service", "worker"], env) for _ in range(workers)]
            started = [ctx.__enter__() for ctx in worker_procs]
            try:
                return await _drain(url, sim, api_port, total, [p.pid for p in started])
            finally:
                for ctx in worker_procs:
                    ctx.__exit__(None, None, None)


async def _drain(url: str, sim: str, api_port: int, total: int, pids: list[int]) -> dict[str, Any]:
    redis = Redis.from_url(url)
    phones = list(numbers(total))
    t0 = time.time()
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{api_port}", headers=AUTH, timeout=60
    ) as api:
        for start in range(0, total, 1000):
            batch = [
                {"to": p, "text": f"{TEXT} #{start + i}"}
                for i, p in enumerate(phones[start : start + 1000])
            ]
            response = await api.post("/v1/messages/batch", json={"messages": batch})
            assert response.json()["accepted"] == len(batch), response.text
    enqueued = time.time() - t0

    await wait_until(lambda: _accepted_at_least(sim, total), timeout=total / 50 + 120)
    await asyncio.sleep(1)
    received = await sim_messages(sim)
    stats = httpx.get(f"{sim}/_sim/stats").json()
    arrivals = sorted(m["received_at"] for m in received)
    drain_seconds = arrivals[-1] - t0
    rows = await records(redis)
    per_worker: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row[b"status"] == b"sent":
            per_worker[row[b"worker"].decode()].append(int(row[b"dispatched_at"]) / 1000)
    # Each worker's bucket starts with 100 banked tokens (RATE_BURST): measure after they are spent.
    steady_sends = {w: after_burst(ts, burst=100) for w, ts in per_worker.items()}
    sent = sum(1 for row in rows if row[b"status"] == b"sent")
    await redis.aclose()
    steady = [t for t in arrivals if t >= arrivals[0] + 2]
    return {
        "messages": total,
        "workers": len(pids),
        "enqueue_seconds": round(enqueued, 2),
        "sent_records": sent,
        "sim_accepted": stats["accepted"],
        "duplicates": stats["duplicates"],
        "drain_seconds_from_first_enqueue": round(drain_seconds, 2),
        "drain_rate_msg_per_s": round(total / drain_seconds, 1),
        "drain_rate_fraction_of_the_pool_100": round(total / drain_seconds / 100, 3),
        "steady_rate_msg_per_s": round(len(steady) / (steady[-1] - steady[0]), 1),
        "burst_seconds_per_worker": {
            w[-12:]: round(steady_sends[w][0] - min(ts), 2) if steady_sends[w] else None
            for w, ts in per_worker.items()
        },
        "max_per_worker_in_any_1s_window_after_burst": {
            w[-12:]: max_in_window(ts) for w, ts in steady_sends.items()
        },
        "max_per_worker_in_any_1s_window_incl_burst": {
            w[-12:]: max_in_window(ts) for w, ts in per_worker.items()
        },
        # The promise to each number: at most rate + burst in any 1-s window.
        "max_per_sender_in_any_1s_window": {
            name: max_in_window(sorted(m["received_at"] for m in received if m["instance"] == name))
            for name in sorted({m["instance"] for m in received})
        },
    }


# -- 3: API ingest: loadtest/bench_ingest.py (wrk; a Python client was the bottleneck) -----


# -- 4: worker CPU per message, RSS --------------------------------------------------------------


async def _feed(url: str, count: int) -> None:
    redis = Redis.from_url(url)
    queue = MessageQueue(redis, Settings(redis_url=url))
    phones = list(numbers(count))
    for start in range(0, count, 1000):
        await queue.enqueue(
            [NewMessage(to=p[1:], text=TEXT) for p in phones[start : start + 1000]], "bench"
        )
    await redis.aclose()


async def _cpu_run(
    args: list[str], env: dict[str, str], url: str, sim: str, count: int
) -> dict[str, Any]:
    httpx.post(f"{sim}/_sim/reset")
    await _feed(url, count)
    with process(args, env) as worker:
        # Skip the first 200 sends (startup, imports, the bucket's burst); measure steady state.
        await wait_until(lambda: _accepted_at_least(sim, 200), 120, 0.05)
        cpu0, t0, n0 = cpu_seconds(worker.pid), time.monotonic(), _accepted(sim)
        await wait_until(lambda: _accepted_at_least(sim, count - 100), 300, 0.05)
        cpu1, t1, n1 = cpu_seconds(worker.pid), time.monotonic(), _accepted(sim)
        rss = rss_bytes(worker.pid)
    sent = n1 - n0
    return {
        "sent_measured": sent,
        "rate_msg_per_s": round(sent / (t1 - t0), 1),
        "cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / sent, 3),
        "rss_mb": round(rss / 2**20, 1),
    }


async def cpu(count: int = 3000) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with redis_url() as url, simulator(latency_ms=100) as sim:
        for transport in ("aiohttp", "httpx"):
            env = zapq_env(url, sim, ZAPQ_EVOLUTION__TRANSPORT=transport)
            results[f"zapq_worker_{transport}"] = await _cpu_run(
                ["-m", "service", "worker"], env, url, sim, count
            )
            await Redis.from_url(url).flushdb()
        env = zapq_env(url, sim)
        results["bare_arq_httpx_baseline"] = await _cpu_run(
            ["-m", "arq", "loadtest.baseline_worker.WorkerSettings"], env, url, sim, count
        )
    base = results["bare_arq_httpx_baseline"]["cpu_ms_per_message"]
    for name in ("zapq_worker_aiohttp", "zapq_worker_httpx"):
        results[name]["cpu_ratio_to_bare_arq"] = round(
            results[name]["cpu_ms_per_message"] / base, 3
        )
    return results


# -- urgent behind 100,000 normal, memory per queued message -------------------------------------


async def urgent(backlog: int = 100_000) -> dict[str, Any]:
    with redis_url() as url, simulator(latency_ms=100) as sim:
        await _feed(url, backlog)
        env = zapq_env(url, sim)
        with process(["-m", "service", "worker"], env), process(["-m", "service", "worker"], env):
            await wait_until(lambda: _accepted_at_least(sim, 300), 60, 0.05)
            redis = Redis.from_url(url)
            queue = MessageQueue(redis, Settings(redis_url=url))
            samples = []
            for _ in range(5):
                t0 = time.time()
                [result] = await queue.enqueue(
                    [NewMessage(to="5521999990000", text="urgente", priority="urgent")], "bench"
                )
                key = keys.DEFAULT.message(result.message_id)
                await wait_until(lambda key=key: _is_sent(redis, key), 30, 0.005)
                dispatched = int(await redis.hget(key, "dispatched_at")) / 1000
                samples.append(round(dispatched - t0, 3))
                await asyncio.sleep(0.5)
            ready = (await queue.stats()).ready["normal"]
            await redis.aclose()
    return {
        "normal_backlog": backlog,
        "normal_still_ready_at_end": ready,
        "urgent_enqueue_to_dispatch_seconds": samples,
        "max_seconds": max(samples),
    }


def _accepted(sim: str) -> int:
    return int(httpx.get(f"{sim}/_sim/stats").json()["accepted"])


async def _accepted_at_least(sim: str, n: int) -> bool:
    return _accepted(sim) >= n


async def _is_sent(redis: Redis, key: str) -> bool:
    return await redis.hget(key, "status") == b"sent"


async def memory(count: int = 10_000) -> dict[str, Any]:
    """Redis memory per queued message, with Redis's default hash encoding limits and with
    hash-max-listpack-value 1024 (what `zapq dev`, the tests and the chart's Redis use)."""
    result: dict[str, Any] = {"messages": count, "text_chars": len(TEXT)}
    for name, compact in (("default_redis", False), ("hash_max_listpack_value_1024", True)):
        with redis_server(Path(mkdtemp(prefix="zapq-mem-")), compact_hashes=compact) as url:
            redis = Redis.from_url(url)
            before = (await redis.info("memory"))["used_memory"]
            await _feed(url, count)
            after = (await redis.info("memory"))["used_memory"]
            sample = (await redis.keys("{zapq}:msg:*"))[0]
            result[name] = {
                "used_memory_bytes_per_message": round((after - before) / count),
                "record_bytes_memory_usage": await redis.memory_usage(sample),
            }
            await redis.aclose()
    return result


PARTS = {"drain": drain, "cpu": cpu, "urgent": urgent, "memory": memory}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("part", choices=[*PARTS, "all"])
    args = parser.parse_args()
    names = list(PARTS) if args.part == "all" else [args.part]
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cores, "
                f"{platform.platform()}, Python {platform.python_version()}"
            }
        )
    )
    for name in names:
        started = time.monotonic()
        result = asyncio.run(PARTS[name]())
        result["bench_seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: result}), flush=True)


if __name__ == "__main__":
    main()
