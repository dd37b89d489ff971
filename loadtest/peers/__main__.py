"""zapq and its peers side by side (issue #14, item 6). Run:

    .venv/bin/python -m loadtest.peers                  # zapq, Celery, Dramatiq, BullMQ: minutes
    .venv/bin/python -m loadtest.peers --peers zapq,bullmq --burst 25

Each contender drains the same messages into the Evolution simulator through the same number of
worker processes and concurrent jobs under one shared sender limit, on its own redis-server. The
table prints as markdown; everything measured is written as JSON under loadtest/results/. The
peers' packages live in .tools/peers and loadtest/peers/bullmq/node_modules, built on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from loadtest.bench_pipeline import TEXT, numbers
from loadtest.peers import report, toolchain
from loadtest.peers.bench import Limits, run_contender
from loadtest.peers.contenders import CONTENDERS, DEFAULT, Run
from loadtest.procs import simulator

RESULTS = toolchain.REPO / "loadtest" / "results"


def _peers(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown peer(s) {unknown or value!r}; choose from {', '.join(CONTENDERS)}"
        )
    return names


def _positive(kind: type) -> Any:
    def parse(value: str) -> Any:
        number = kind(value)
        if number <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
        return number

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--peers", type=_peers, default=DEFAULT, help=f"comma-separated: {', '.join(CONTENDERS)}")
    add("--messages", type=_positive(int), default=3000, help="messages to drain (default 3000)")
    add("--latency-ms", type=_positive(float), default=100.0, help="simulator latency (100)")
    add("--workers", type=_positive(int), default=4, help="worker processes (default 4)")
    add("--concurrency", type=_positive(int), default=10, help="jobs per process (default 10)")
    add("--rate-per-second", type=_positive(int), default=50, help="the shared limit (50)")
    # 1: a token bucket lets burst + rate x T sends through in any T seconds, so only a burst of
    # about one keeps every 1-s window at the limit (the peers' limiters have no burst either).
    add("--burst", type=_positive(int), default=1, help="zapq's token bucket size (default 1)")
    # 10 s: long enough to average over the peers' slowest idle loops (Celery's 1 s BRPOP, BullMQ's
    # 5 s blocking wait), short enough to keep the run in minutes.
    add("--idle-seconds", type=_positive(float), default=10.0, help="idle window (default 10)")
    # 900 s: Dramatiq's default backoff (15 s, doubling) stretches its drain to minutes.
    add("--drain-timeout-seconds", type=_positive(float), default=900.0)
    add("--out", type=Path, default=None, help="JSON path (default loadtest/results/peers-*.json)")
    return parser.parse_args(argv)


def _messages(count: int) -> list[dict[str, str]]:
    return [
        {"number": phone.lstrip("+"), "text": f"{TEXT} #{index}"}
        for index, phone in enumerate(numbers(count))
    ]


def _prepare(names: list[str]) -> None:
    """Build the peers' environments before anything is timed."""
    if {"celery", "dramatiq"} & set(names):
        toolchain.peers_python()
    if "bullmq" in names:
        toolchain.node()


async def bench(args: argparse.Namespace, stamp: str) -> list[dict[str, Any]]:
    messages = _messages(args.messages)
    workdir = RESULTS / f"peers-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    messages_file = workdir / "messages.json"
    messages_file.write_text(json.dumps(messages))
    expected = [m["number"] for m in messages]
    limits = Limits(args.idle_seconds, args.drain_timeout_seconds)
    rows = []
    with simulator(latency_ms=args.latency_ms) as sim:
        run = Run(
            "", sim, messages_file, args.workers, args.concurrency, args.rate_per_second, args.burst
        )
        for name in args.peers:
            print(f"running {name} ...", flush=True)
            row = await run_contender(CONTENDERS[name], run, expected, limits, workdir / "logs")
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _prepare(args.peers)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    rows = asyncio.run(bench(args, stamp))
    out = args.out or RESULTS / f"peers-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    out.write_text(json.dumps({"machine": machine, "settings": settings, "rows": rows}, indent=2))
    print()
    print(report.table(rows, args.rate_per_second))
    print()
    print(report.notes(rows, machine))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
