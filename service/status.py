"""`zapq status [--watch]`: the queue at a glance on a terminal, without Grafana.

Depths and ages come straight from Redis (MessageQueue.stats(): one pipelined round trip, no
scans). The send rate comes from the workers' own /metrics pages (`--metrics-url`, or
ZAPQ_STATUS__METRICS_URLS comma-separated): zapq_messages_sent_total is read at every refresh and
the rate is its increase over the samples of the last 60 s, counter resets (a restarted worker)
handled like Prometheus does. A one-shot run samples twice, ``--interval`` apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import IO

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from service.queue.models import QueueStats
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.settings import Settings

#: The window of the send rate, seconds (the rate "over the last minute").
RATE_WINDOW_SECONDS = 60.0
# A worker's /metrics answers in milliseconds; a slow one must not stall the display.
_SCRAPE_TIMEOUT_SECONDS = 2.0
_SENT = "zapq_messages_sent_total"
# ANSI: cursor home, clear the screen.
_CLEAR = "\x1b[H\x1b[2J"


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    window_seconds: float
    answered: int
    asked: int


class SentCounter:
    """Samples of zapq_messages_sent_total per /metrics URL; increases over the last window."""

    def __init__(self, window_seconds: float = RATE_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self.samples: dict[str, deque[tuple[float, float]]] = {}

    def add(self, url: str, at: float, total: float) -> None:
        samples = self.samples.setdefault(url, deque())
        samples.append((at, total))
        while len(samples) > 2 and at - samples[1][0] >= self.window_seconds:
            samples.popleft()

    def rate(self, asked: int, answered: int) -> Rate | None:
        """Messages per second over the longest span every URL has; None before two samples."""
        spans = [s[-1][0] - s[0][0] for s in self.samples.values() if len(s) > 1]
        if not spans or max(spans) <= 0:
            return None
        increase = sum(_increase(samples) for samples in self.samples.values())
        window = max(spans)
        return Rate(increase / window, window, answered, asked)


def _increase(samples: deque[tuple[float, float]]) -> float:
    """Sum of the rises between samples; a drop is a restarted process counting from zero."""
    values = [value for _, value in samples]
    return sum(b - a if b >= a else b for a, b in pairwise(values))


def sent_total(page: str) -> float:
    """zapq_messages_sent_total summed over priorities, from one /metrics page."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == _SENT
    )


async def scrape(client: httpx.AsyncClient, urls: Sequence[str], counter: SentCounter) -> int:
    """Read every URL once into ``counter``; returns how many answered."""
    pages = await asyncio.gather(*(client.get(url) for url in urls), return_exceptions=True)
    now = time.monotonic()
    answered = 0
    for url, page in zip(urls, pages, strict=True):
        if isinstance(page, httpx.Response) and page.status_code == 200:
            counter.add(url, now, sent_total(page.text))
            answered += 1
    return answered


def drain_seconds(stats: QueueStats, rate: Rate | None) -> float | None:
    """Ready backlog / send rate: None when unknown, inf when nothing is being sent."""
    if rate is None:
        return None
    if stats.ready_total == 0:
        return 0.0
    return stats.ready_total / rate.per_second if rate.per_second > 0 else float("inf")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds == float("inf"):
        return "never (nothing is being sent)"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def render(stats: QueueStats, rate: Rate | None, now: datetime) -> list[str]:
    header = f"  {'priority':<14} {'ready':>9}  oldest ready"
    lines = [f"zapq status  {now:%Y-%m-%d %H:%M:%S %Z}", "", header]
    for priority, depth in stats.ready.items():
        age = stats.oldest_ready_age_seconds[priority]
        lines.append(f"  {priority:<14} {depth:>9,}  {duration(age) if depth else '-'}")
    lines.append(f"  {'total':<14} {stats.ready_total:>9,}")
    lines.append("")
    for label, value in (
        ("in flight", stats.in_flight),
        ("scheduled", stats.scheduled),
        ("retrying", stats.retrying),
        ("dead letters", stats.dead_letters),
    ):
        lines.append(f"  {label:<14} {value:>9,}")
    lines.append("")
    lines.append(f"  {'send rate':<14} {_rate_text(rate)}")
    lines.append(f"  {'time to drain':<14} {duration(drain_seconds(stats, rate))}")
    return lines


def _rate_text(rate: Rate | None) -> str:
    if rate is None:
        return "n/a (give --metrics-url or ZAPQ_STATUS__METRICS_URLS: the workers' /metrics)"
    return (
        f"{rate.per_second:.1f} msg/s  (last {rate.window_seconds:.0f} s; "
        f"{rate.answered} of {rate.asked} metrics URLs answered)"
    )


def as_json(stats: QueueStats, rate: Rate | None) -> bytes:
    body = {
        **asdict(stats),
        "ready_total": stats.ready_total,
        "send_rate": asdict(rate) if rate else None,
        "drain_seconds": drain_seconds(stats, rate),
    }
    return orjson.dumps(body)


def show(lines: list[str], out: IO[str], *, tty: bool) -> None:
    """On a terminal redraw in place; otherwise plain lines, one block per refresh."""
    text = "\n".join(lines)
    out.write(f"{_CLEAR}{text}\n" if tty else f"{text}\n\n")
    out.flush()


async def status(settings: Settings, args: argparse.Namespace, out: IO[str]) -> None:
    urls = metrics_urls(args)
    redis: Redis = create_redis(settings, "status", max_connections=2)
    queue = MessageQueue(redis, settings)
    counter = SentCounter()
    tty = out.isatty()
    try:
        async with httpx.AsyncClient(timeout=_SCRAPE_TIMEOUT_SECONDS) as client:
            answered = await scrape(client, urls, counter)
            if urls and not args.watch:  # a rate needs two samples
                await asyncio.sleep(args.interval)
                answered = await scrape(client, urls, counter)
            while True:
                rate = counter.rate(len(urls), answered) if urls else None
                stats = await queue.stats()
                if args.json:
                    out.write(as_json(stats, rate).decode() + "\n")
                    out.flush()
                else:
                    show(render(stats, rate, datetime.now(UTC)), out, tty=tty)
                if not args.watch:
                    return
                await asyncio.sleep(args.interval)
                answered = await scrape(client, urls, counter)
    finally:
        await redis.aclose()


def metrics_urls(args: argparse.Namespace) -> list[str]:
    """--metrics-url flags, else ZAPQ_STATUS__METRICS_URLS (comma-separated)."""
    if args.metrics_url:
        return list(args.metrics_url)
    env = os.environ.get("ZAPQ_STATUS__METRICS_URLS", "")
    return [url.strip() for url in env.split(",") if url.strip()]


def run(settings: Settings, args: argparse.Namespace) -> None:
    try:
        asyncio.run(status(settings, args, sys.stdout))
    except KeyboardInterrupt:
        if not args.watch:
            raise
