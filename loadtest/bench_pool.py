"""Sender pool benchmarks (issue #13). Rerun with:

    .venv/bin/python -m loadtest.bench_pool all        # everything, about 5 minutes
    .venv/bin/python -m loadtest.bench_pool limit      # or one of: limit cost failover

limit     20 worker processes, 4 senders at 50 msg/s (burst 10): each sender's peak in any 1-s
          window, the pool's efficiency against the summed rates, duplicates and losses.
cost      Redis round trips, commands and worker CPU per message, before the pool (the commit
          given by --before, run from a temporary git worktree) and after, in the same run: one
          worker at 50 msg/s, the simulator at 100 ms latency, through a counting proxy.
failover  2 senders; one's session starts refusing every send: from its first refusal to the first
          send of a refused message through the other sender, and until its breaker opened.

Everything runs here: its own redis-server, the simulator, `zapq worker` processes, all on
127.0.0.1 and stopped by PID. Figures print as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from redis.asyncio import Redis

from loadtest.bench_pipeline import (
    TEXT,
    _accepted,
    _accepted_at_least,
    max_in_window,
    numbers,
    redis_url,
    sim_messages,
    wait_until,
)
from loadtest.procs import cpu_seconds, process, simulator, workers_connected, zapq_env
from loadtest.redis_proxy import counting_proxy
from service.queue.keys import Keys
from service.queue.models import NewMessage, now_ms
from service.queue.scripts import SPECS, source
from service.queue.store import MessageQueue
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# The last commit before the sender pool: one instance, a 50 msg/s bucket per worker process.
BEFORE_REF = "4969862"


def senders(names: list[str], rate: float, burst: int) -> str:
    return orjson.dumps(
        [{"name": n, "instance": n, "rate_per_second": rate, "burst": burst} for n in names]
    ).decode()


async def feed(url: str, count: int, start: int = 0) -> list[str]:
    redis = Redis.from_url(url)
    queue = MessageQueue(redis, Settings(redis_url=url))
    ids: list[str] = []
    phones = list(numbers(count, start))
    for first in range(0, count, 1000):
        chunk = [NewMessage(to=p[1:], text=TEXT) for p in phones[first : first + 1000]]
        ids += [r.message_id for r in await queue.enqueue(chunk, "bench")]
    await redis.aclose()
    return ids


@contextmanager
def workers(count: int, env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    with ExitStack() as stack:
        yield [stack.enter_context(process(["-m", "service", "worker"], env)) for _ in range(count)]


# -- limit: 20 workers, 4 senders -----------------------------------------------------------------


async def limit(total: int = 6000, rate: float = 50, burst: int = 10) -> dict[str, Any]:
    names = ["s1", "s2", "s3", "s4"]
    with redis_url() as url, simulator(latency_ms=100) as sim:
        httpx.post(f"{sim}/_sim/config", json={"instances": dict.fromkeys(names)})
        env = zapq_env(url, sim, ZAPQ_SENDERS=senders(names, rate, burst))
        with workers(20, env) as procs:
            # 20 processes take several seconds to start on a small machine: the backlog arrives
            # once all of them wait for work, so that the start-up is not counted as slowness.
            await wait_until(lambda: workers_connected(url, [p.pid for p in procs]), 120)
            await feed(url, total)
            await wait_until(lambda: _accepted_at_least(sim, total), total / rate + 120)
        received = await sim_messages(sim)
        stats = httpx.get(f"{sim}/_sim/stats").json()
    per_sender: dict[str, list[float]] = {}
    for message in received:
        per_sender.setdefault(message["instance"], []).append(message["received_at"])
    times = sorted(m["received_at"] for m in received)
    steady = [t for t in times if times[0] + 1 <= t <= times[-1] - 1]
    pool_rate = (len(steady) - 1) / (steady[-1] - steady[0])
    return {
        "workers": 20,
        "senders": {n: {"rate_per_second": rate, "burst": burst} for n in names},
        "messages": total,
        "accepted": stats["accepted"],
        "duplicates": stats["duplicates"],
        "peak_in_any_1s_window": {n: max_in_window(sorted(t)) for n, t in per_sender.items()},
        "peak_in_any_1s_window_after_first_second": {
            n: max_in_window([x for x in sorted(t) if x >= min(t) + 1])
            for n, t in per_sender.items()
        },
        "promise_rate_plus_burst": rate + burst,
        "sends_per_sender": {n: len(t) for n, t in per_sender.items()},
        "pool_rate_steady_msg_per_s": round(pool_rate, 1),
        "pool_efficiency": round(pool_rate / (rate * len(names)), 3),
    }


# -- cost: round trips and CPU per message, before and after --------------------------------------


@contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """The tree at ``ref`` in a temporary git worktree (removed afterwards)."""
    path = Path(tempfile.mkdtemp(prefix="zapq-before-")) / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
            check=False,
            capture_output=True,
        )


async def _feed_before(tree: Path, url: str, count: int) -> None:
    """Enqueue with the old tree's own MessageQueue (its keys and record format)."""
    code = (
        "import asyncio, sys; from loadtest.bench_pipeline import _feed; "
        f"asyncio.run(_feed({url!r}, {count}))"
    )
    await asyncio.to_thread(
        subprocess.run, ["python", "-c", code], cwd=tree, check=True, env=_python_env()
    )


def _python_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    return env


async def _cost_run(
    url: str, sim: str, count: int, env: dict[str, str], cwd: Path, label: str
) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    httpx.post(f"{sim}/_sim/reset")
    async with counting_proxy(port) as (proxy_port, counts):
        env = {**env, "ZAPQ_REDIS_URL": f"redis://127.0.0.1:{proxy_port}/0"}
        args = [str(ROOT / ".venv" / "bin" / "python"), "-m", "service", "worker"]
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
        try:
            # Skip the first 200 sends (startup, imports, the burst); measure the steady state.
            await wait_until(lambda: _accepted_at_least(sim, 200), 120, 0.05)
            cpu0, t0, n0 = cpu_seconds(proc.pid), time.monotonic(), _accepted(sim)
            trips0, commands0 = counts.round_trips, counts.commands
            await wait_until(lambda: _accepted_at_least(sim, count - 100), 300, 0.05)
            cpu1, t1, n1 = cpu_seconds(proc.pid), time.monotonic(), _accepted(sim)
            trips, commands = counts.round_trips - trips0, counts.commands - commands0
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 40)
    sent = n1 - n0
    return {
        "code": label,
        "sent_measured": sent,
        "rate_msg_per_s": round(sent / (t1 - t0), 1),
        "cpu_ms_per_message": round((cpu1 - cpu0) * 1000 / sent, 3),
        "redis_round_trips_per_message": round(trips / sent, 2),
        "redis_commands_per_message": round(commands / sent, 2),
        "commands_by_name": {
            _SCRIPTS.get(name, name): n for name, n in Counter(counts.by_command).most_common(10)
        },
    }


def _script_names() -> dict[str, str]:
    """evalsha:<sha prefix> -> the script's name, for this tree's scripts (default prefix)."""
    names = {}
    for name in SPECS:
        sha = hashlib.sha1(source(name, Keys()).encode(), usedforsecurity=False).hexdigest()
        names[f"evalsha:{sha[:8]}"] = f"script:{name}"
    return names


_SCRIPTS = _script_names()


async def cost(count: int = 3000, before: str = BEFORE_REF) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with redis_url() as url, simulator(latency_ms=100) as sim, checkout(before) as tree:
        env = zapq_env(url, sim)
        await _feed_before(tree, url, count)
        results["before"] = await _cost_run(url, sim, count, env, tree, f"{before} (no pool)")
        await Redis.from_url(url).flushdb()
        await feed(url, count)
        env = zapq_env(url, sim, ZAPQ_SENDERS=senders(["zapq"], 50, 10))
        results["after"] = await _cost_run(url, sim, count, env, ROOT, "this tree (the pool)")
    for figure in ("cpu_ms_per_message", "redis_round_trips_per_message"):
        results[f"{figure}_after_over_before"] = round(
            results["after"][figure] / results["before"][figure], 3
        )
    return results


# -- failover ------------------------------------------------------------------------------------


async def failover(total: int = 3000) -> dict[str, Any]:
    with redis_url() as url, simulator(latency_ms=100) as sim:
        httpx.post(f"{sim}/_sim/config", json={"instances": {"s1": None, "s2": None}})
        ids = await feed(url, total)
        env = zapq_env(url, sim, ZAPQ_SENDERS=senders(["s1", "s2"], 50, 10))
        with workers(4, env):
            await wait_until(lambda: _accepted_at_least(sim, 500), 120, 0.05)
            closed_at = now_ms()
            httpx.post(f"{sim}/_sim/instances/s1", json={"connection_closed": True})
            await wait_until(lambda: _accepted_at_least(sim, total), 300)
        received = await sim_messages(sim)
        redis = Redis.from_url(url)
        queue = MessageQueue(redis, Settings(redis_url=url))
        records = [r for r in await queue.get_many(ids) if r]
        await redis.aclose()
    return _failover_figures(records, received, closed_at)


def _failover_figures(records: list[Any], received: list[dict[str, Any]], closed_at: int) -> dict:
    refusals = sorted(
        (h["at_ms"], r.to) for r in records for h in r.history if h.get("rerouted_from") == "s1"
    )
    rerouted = {to for _, to in refusals}
    first_refusal = refusals[0][0]
    moved = sorted(
        m["received_at"] * 1000
        for m in received
        if m["instance"] == "s2" and m["number"] in rerouted
    )
    last_refusal = refusals[-1][0]
    return {
        "switch_flipped_to_first_refusal_ms": first_refusal - closed_at,
        "first_refusal_to_first_send_through_s2_ms": round(moved[0] - first_refusal),
        "refusals_by_s1": len(refusals),
        "first_to_last_refusal_ms": last_refusal - first_refusal,
        "attempts_counted": Counter(r.attempts for r in records),
        "statuses": Counter(str(r.status) for r in records),
    }


PARTS = {"limit": limit, "cost": cost, "failover": failover}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("part", choices=[*PARTS, "all"])
    args = parser.parse_args()
    machine = f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}"
    print(json.dumps({"machine": f"{machine}, Python {platform.python_version()}"}))
    for name in list(PARTS) if args.part == "all" else [args.part]:
        started = time.monotonic()
        result = asyncio.run(PARTS[name]())
        result["bench_seconds"] = round(time.monotonic() - started, 1)
        print(json.dumps({name: result}, default=str), flush=True)


if __name__ == "__main__":
    main()
