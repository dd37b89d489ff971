"""Scheduler fixtures: the billing API server (session), a real PostgreSQL (session, started on
first use), settings pointing the scheduler at them, and a run() helper with a pinned clock."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from redis.asyncio import Redis

from service.queue.models import MessageRecord
from service.scheduler.run import Outputs, RunOptions, run_schedule
from service.scheduler.summary import Summary
from service.settings import Settings
from tests.conftest import require_tool
from tests.scheduler.billing_api import BillingApi
from tests.scheduler.postgres import find_bin_dir, postgres_server

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
#: A Monday: every default rule's window is open.
MONDAY = date(2025, 3, 10)


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SAO_PAULO) -> int:
    """Unix ms of a wall-clock time on ``day`` in ``zone``."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp() * 1000)


def charge(charge_id: str, due: date, **fields: Any) -> dict[str, Any]:
    """A billing API record in the default field mapping."""
    return {
        "id": charge_id,
        "customer_name": "MARIA DA SILVA",
        "phone": "+55 11 98765-4321",
        "amount": "1234.56",
        "due_date": due.isoformat(),
        "status": "open",
        "payment_link": f"https://pay.example/{charge_id}",
        **fields,
    }


def configure(settings: Settings, **schedule: Any) -> Settings:
    """``settings`` with some schedule fields changed."""
    return settings.model_copy(update={"schedule": settings.schedule.model_copy(update=schedule)})


@dataclass
class Run:
    summary: Summary
    out: str

    @property
    def result(self) -> dict[str, Any]:
        return self.summary.as_dict()


async def run(settings: Settings, now_ms: int, **options: Any) -> Run:
    out, progress = io.StringIO(), io.StringIO()
    summary = await run_schedule(
        settings, RunOptions(**options), clock=lambda: now_ms, outputs=Outputs(out, progress)
    )
    return Run(summary, out.getvalue())


async def records(redis: Redis) -> list[MessageRecord]:
    """Every message record in Redis, by idempotency key."""
    found = [
        MessageRecord.from_hash(await redis.hgetall(key))  # type: ignore[misc]
        async for key in redis.scan_iter(match="{zapq}:msg:*")
    ]
    return sorted(found, key=lambda record: record.idempotency_key or "")


@pytest.fixture(scope="session")
def billing_server() -> Iterator[BillingApi]:
    with BillingApi([]) as api:
        yield api


@pytest.fixture
def billing(billing_server: BillingApi) -> BillingApi:
    billing_server.reset([])
    return billing_server


@pytest.fixture
def ssettings(settings: Settings, billing: BillingApi) -> Settings:
    """The scheduler reading the billing server's cursor API, retrying fast."""
    return configure(
        settings,
        source="http",
        source_url=f"{billing.url}/cursor/charges",
        source_retry_delay_seconds=0.01,
    )


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(url) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres_session() -> Iterator[str | None]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        yield None
        return
    with postgres_server(bin_dir) as url:
        _wait_ready(url)
        yield url


@pytest.fixture
def postgres_url(postgres_session: str | None) -> str:
    require_tool(postgres_session is not None, "PostgreSQL (Debian package postgresql)")
    assert postgres_session is not None
    return postgres_session


@pytest.fixture(scope="session")
def foreign_server() -> Iterator[BillingApi]:
    """A second billing server: another origin, which records the headers it is sent."""
    with BillingApi([]) as api:
        yield api


@pytest.fixture
def foreign(foreign_server: BillingApi) -> BillingApi:
    foreign_server.reset([])
    return foreign_server


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    require_tool(shutil.which("openssl") is not None, "openssl (Debian package openssl)")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def tls_billing_server(tls_files: tuple[str, str]) -> Iterator[BillingApi]:
    with BillingApi([], tls=tls_files) as api:
        yield api


@pytest.fixture
def tls_billing(
    tls_billing_server: BillingApi, tls_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> BillingApi:
    """The billing API over https, its certificate trusted by the clients made in the test."""
    monkeypatch.setenv("SSL_CERT_FILE", tls_files[0])
    tls_billing_server.reset([])
    return tls_billing_server
