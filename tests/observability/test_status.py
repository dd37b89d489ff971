"""`zapq status`: depths from a real Redis, the send rate from a real worker /metrics page."""

from __future__ import annotations

import argparse
import io
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from redis.asyncio import Redis

from service import metrics
from service.devstack import free_port
from service.queue.models import NewMessage, QueueStats, now_ms
from service.queue.store import MessageQueue
from service.settings import Settings
from service.status import Rate, SentCounter, drain_seconds, render, scrape, show, status
from service.worker.health import create_health_app, start_health_server


def args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {"watch": False, "interval": 0.05, "metrics_url": None}
    values["json"] = False
    values.update(overrides)
    return argparse.Namespace(**values)


async def fill(queue: MessageQueue) -> None:
    later = now_ms() + 3_600_000
    messages = [
        *(NewMessage(to=f"5511987650{i:03d}", text="a", priority="urgent") for i in range(3)),
        *(NewMessage(to=f"5511987651{i:03d}", text="b") for i in range(5)),
        *(NewMessage(to=f"5511987652{i:03d}", text="c", priority="low") for i in range(2)),
        NewMessage(to="5511987653000", text="d", send_at_ms=later),
    ]
    await queue.enqueue(messages, "test")


@pytest.fixture
async def metrics_url(redis: Redis) -> AsyncIterator[str]:
    """A real worker health server (its /metrics is the process registry)."""
    port = free_port()
    runner = await start_health_server(
        create_health_app(redis, time.monotonic, 30), "127.0.0.1", port
    )
    yield f"http://127.0.0.1:{port}/metrics"
    await runner.cleanup()


async def test_one_shot_reads_depths_from_redis(redis: Redis, settings: Settings) -> None:
    await fill(MessageQueue(redis, settings))
    out = io.StringIO()
    await status(settings, args(), out)
    text = out.getvalue()
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert lines["urgent"][0] == "3"
    assert lines["normal"][0] == "5"
    assert lines["low"][0] == "2"
    assert lines["total"] == ["10"]
    assert lines["scheduled"] == ["1"]
    assert "\x1b[" not in text, "no ANSI codes when stdout is not a terminal"
    assert "send rate      n/a (give --metrics-url" in text


async def test_json_carries_the_same_figures(redis: Redis, settings: Settings) -> None:
    await fill(MessageQueue(redis, settings))
    out = io.StringIO()
    await status(settings, args(json=True), out)
    body = orjson.loads(out.getvalue())
    assert body["ready"] == {"urgent": 3, "normal": 5, "low": 2}
    assert body["ready_total"] == 10
    assert body["scheduled"] == 1
    assert body["send_rate"] is None
    assert body["oldest_ready_age_seconds"]["urgent"] >= 0


async def test_send_rate_comes_from_the_workers_metrics(
    redis: Redis, settings: Settings, metrics_url: str
) -> None:
    before = metrics.SENT.labels("normal", "text")._value.get()
    out = io.StringIO()
    await status(settings, args(json=True, metrics_url=[metrics_url, "http://127.0.0.1:9/"]), out)
    body = orjson.loads(out.getvalue())
    assert body["send_rate"]["answered"] == 1
    assert body["send_rate"]["asked"] == 2
    counter = SentCounter()
    async with httpx.AsyncClient() as client:
        assert await scrape(client, [metrics_url], counter) == 1
        metrics.SENT.labels("normal", "text").inc(30)
        assert await scrape(client, [metrics_url], counter) == 1
    (first, second) = [value for _, value in counter.samples[metrics_url]]
    assert second - first == 30
    assert first >= before


def test_rate_handles_restarts_and_keeps_one_minute() -> None:
    counter = SentCounter(window_seconds=60)
    for at, total in [(0, 100), (30, 400), (60, 700), (90, 50), (120, 350)]:
        counter.add("w1", at, total)
    counter.add("w2", 60, 0)
    counter.add("w2", 120, 600)
    rate = counter.rate(asked=2, answered=2)
    assert rate is not None
    # w1 over 60..120 s: 700 -> 50 (restart: +50) -> 350 (+300); w2 +600 over the same minute.
    assert rate.window_seconds == 60
    assert rate.per_second == pytest.approx((350 + 600) / 60)
    assert SentCounter().rate(asked=1, answered=1) is None


def test_drain_time() -> None:
    ages = {"urgent": 0.0, "normal": 5.0, "low": 0.0}
    stats = QueueStats({"urgent": 0, "normal": 100, "low": 0}, ages, 0, 0, 0, 0)
    assert drain_seconds(stats, Rate(10, 60, 1, 1)) == 10
    assert drain_seconds(stats, Rate(0, 60, 1, 1)) == float("inf")
    assert drain_seconds(stats, None) is None
    lines = render(stats, Rate(0, 60, 1, 1), datetime(2026, 11, 23, 9, tzinfo=UTC))
    assert any("never (nothing is being sent)" in line for line in lines)


def test_a_terminal_is_redrawn_in_place() -> None:
    out = io.StringIO()
    show(["a", "b"], out, tty=True)
    show(["c"], out, tty=True)
    assert out.getvalue() == "\x1b[H\x1b[2Ja\nb\n\x1b[H\x1b[2Jc\n"
    plain = io.StringIO()
    show(["a"], plain, tty=False)
    assert plain.getvalue() == "a\n\n"


def _env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "ZAPQ_REDIS_URL": redis_url}


def test_watch_prints_plain_blocks_and_stops_on_ctrl_c(redis_url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "status", "--watch", "--interval", "0.1"],
        env=_env(redis_url),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    blocks = 0
    deadline = time.monotonic() + 20
    with proc.stdout:
        while blocks < 3 and time.monotonic() < deadline and proc.poll() is None:
            blocks += proc.stdout.readline().startswith("zapq status")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    assert blocks == 3


def test_watch_on_a_terminal_clears_the_screen(redis_url: str) -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "status", "--watch", "--interval", "0.1"],
        env=_env(redis_url),
        stdout=secondary,
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 20
    while seen.count(b"\x1b[H\x1b[2J") < 2 and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if select.select([primary], [], [], 0.5)[0]:
            seen += os.read(primary, 65536)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    os.close(primary)
    assert seen.count(b"\x1b[H\x1b[2J") >= 2, seen[-500:]
