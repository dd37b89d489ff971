"""`zapq schedule` as the CronJob runs it (a subprocess: exit codes, output), its progress, and
the metrics it pushes."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from service.devstack import child_env, free_port
from service.queue.keys import DEFAULT
from service.scheduler.progress import Progress
from service.scheduler.status import read_last_run
from service.scheduler.summary import Summary
from service.settings import Settings
from tests.scheduler.billing_api import BillingApi
from tests.scheduler.conftest import MONDAY, at, charge, configure, run

# A cold `zapq schedule` imports in ~1 s; a loaded CI machine gets more.
_RUN_TIMEOUT_SECONDS = 60


def zapq_schedule(redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = child_env(
        ZAPQ_REDIS_URL=redis_url,
        ZAPQ_SCHEDULE__SOURCE_RETRY_DELAY_SECONDS="0.01",
        ZAPQ_SCHEDULE__SOURCE_ATTEMPTS="2",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "service", "schedule", *args],
        env=environment, capture_output=True, text=True, timeout=_RUN_TIMEOUT_SECONDS,
    )  # fmt: skip


def summary_line(stdout: str) -> dict[str, Any]:
    last = stdout.strip().splitlines()[-1]
    result: dict[str, Any] = orjson.loads(last)
    assert result["event"] == "schedule_summary"
    return result


async def test_a_run_exits_0_with_progress_lines_and_a_summary(
    redis_url: str, redis: Redis, billing: BillingApi
) -> None:
    billing.reset([charge(f"c{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(1200)])
    done = zapq_schedule(
        redis_url,
        "--source-url", f"{billing.url}/cursor/charges",
        ZAPQ_SCHEDULE__PROGRESS_INTERVAL_SECONDS="0.000001",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    progress = [line for line in lines if line.get("msg") == "schedule progress"]
    assert progress and progress[-1]["read"] == 1200 and progress[-1]["percent"] == 100.0
    assert summary_line(done.stdout)["found"] == 1200
    assert await read_last_run(redis, DEFAULT) is not None


async def test_unreachable_source_exits_1_and_is_recorded(redis_url: str, redis: Redis) -> None:
    done = zapq_schedule(redis_url, "--source-url", f"http://127.0.0.1:{free_port()}/charges")
    assert done.returncode == 1
    result = summary_line(done.stdout)
    assert result["error_code"] == "source_unavailable" and "ConnectError" in result["error"]
    assert '"schedule run failed"' in done.stdout
    last = await read_last_run(redis, DEFAULT)
    assert last is not None and last["last_failed"]


def test_invalid_rules_exit_2(redis_url: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: x, offset_days: 0, template: 'Olá {nome}'}]\n")
    done = zapq_schedule(redis_url, "--rules", str(rules), "--source-url", "http://127.0.0.1:9/")
    assert done.returncode == 2
    assert "unknown field(s) nome" in summary_line(done.stdout)["error"]


async def test_dry_run_from_a_file_prints_counts_and_samples(
    redis_url: str, redis: Redis, tmp_path: Path
) -> None:
    path = tmp_path / "charges.jsonl"
    path.write_bytes(b"".join(orjson.dumps(charge(f"c{i}", MONDAY)) + b"\n" for i in range(4)))
    done = zapq_schedule(
        redis_url,
        "--source", "file", "--source-url", str(path), "--date", MONDAY.isoformat(), "--dry-run",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "due_today                       4        4" in done.stdout
    assert done.stdout.count("vence hoje (10/03/2025)") == 4
    assert await redis.dbsize() == 0


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal() -> None:
    summary = Summary(MONDAY, False, "http", ["r"])
    summary.found = 250
    stream = _Tty()
    progress = Progress(summary, lambda: 0.25, 10.0, stream)
    progress.interval = 0  # redraw on every update
    progress.update()
    progress.finish()
    assert stream.getvalue().startswith("\r[#######.......................]  25.0%  read 250")
    assert stream.getvalue().endswith("\n")
    unknown = Progress(summary, lambda: None, 10.0, _Tty())
    assert unknown.line().startswith("read 250  planned 0")


@pytest.fixture
def pushgateway() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A stand-in Pushgateway (an outside service) that records each push."""
    pushes: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            pushes.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return None

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", pushes
    server.shutdown()
    server.server_close()


async def test_run_metrics_are_pushed(
    ssettings: Settings,
    billing: BillingApi,
    redis: Redis,
    pushgateway: tuple[str, list[tuple[str, bytes]]],
) -> None:
    url, pushes = pushgateway
    billing.reset([charge("a", MONDAY)])
    await run(configure(ssettings, pushgateway_url=url), at(MONDAY, 7))
    ((path, body),) = pushes
    assert path == "/metrics/job/zapq-schedule"
    text = body.decode()
    assert 'zapq_schedule_run_messages{outcome="enqueued",rule="due_today"} 1.0' in text
    assert 'zapq_schedule_run_charges{outcome="found"} 1.0' in text
    assert "zapq_schedule_run_failed 0.0" in text


async def test_a_dead_pushgateway_does_not_fail_the_run(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge("a", MONDAY)])
    settings = configure(ssettings, pushgateway_url=f"http://127.0.0.1:{free_port()}")
    assert (await run(settings, at(MONDAY, 7))).result["ok"]


def test_invalid_settings_exit_2(redis_url: str) -> None:
    done = zapq_schedule(redis_url, ZAPQ_SCHEDULE__TIME_ZONE="Mars/Olympus_Mons")
    assert done.returncode == 2
    assert (
        done.stderr == "zapq: invalid setting ZAPQ_SCHEDULE__TIME_ZONE: unknown time zone "
        "(an IANA name such as America/Sao_Paulo)\n"
    )
    assert "Mars" not in done.stdout + done.stderr
