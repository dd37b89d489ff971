"""Each source against a real server: the billing API over HTTP, files (local and served), and a
real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from pydantic import SecretStr

from service.devstack import free_port
from service.scheduler.charge import InvalidRecord
from service.scheduler.errors import ConfigError, SourceUnavailable
from service.scheduler.settings import ScheduleSettings, SourceKind
from service.scheduler.sources import open_source
from service.scheduler.sources.base import Source
from service.scheduler.sources.options import DueRange, SourceOptions
from tests.scheduler.billing_api import CSV_COLUMNS, BillingApi
from tests.scheduler.conftest import MONDAY, charge

DUE = DueRange(run_date=MONDAY, from_date=MONDAY - timedelta(days=7), to_date=MONDAY)


def charges(count: int) -> list[dict[str, Any]]:
    return [charge(f"c{i}", MONDAY) for i in range(count)]


def source(
    kind: SourceKind, url: str = "", options: dict[str, Any] | None = None, **schedule: Any
) -> Source:
    settings = ScheduleSettings(
        source=kind, source_url=url, source_retry_delay_seconds=0.01, **schedule
    )
    return open_source(kind, settings, SourceOptions.model_validate(options or {}), DUE)


async def collect(src: Source) -> tuple[list[Any], int]:
    """All records, and how many batches they came in."""
    records, batches = [], 0
    try:
        async for batch in src.batches():
            records += batch
            batches += 1
    finally:
        await src.aclose()
    return records, batches


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("/cursor/charges", {}),
        ("/page/charges", {"pagination": "page"}),
        ("/link/charges", {"pagination": "next_url", "items_path": "items",
                           "next_url_path": "links.next", "page_size_param": "limit"}),
    ],
)  # fmt: skip
async def test_http_pagination(billing: BillingApi, path: str, options: dict[str, Any]) -> None:
    billing.reset(charges(1234))
    src = source("http", billing.url + path, {"http": {"page_size": 100, **options}})
    records, batches = await collect(src)
    assert [r["id"] for r in records] == [f"c{i}" for i in range(1234)]
    assert batches == 13


async def test_http_total_gives_a_percent(billing: BillingApi) -> None:
    billing.reset(charges(300))
    src = source("http", billing.url + "/cursor/charges", {"http": {"page_size": 100}})
    fractions = []
    async for _ in src.batches():
        fractions.append(src.fraction_done())
    await src.aclose()
    assert src.total == 300
    assert fractions == pytest.approx([1 / 3, 2 / 3, 1.0])


async def test_http_page_mode_stops_on_a_short_page(billing: BillingApi) -> None:
    billing.reset(charges(250))
    options = {"http": {"pagination": "page", "page_size": 100, "total_path": ""}}
    records, _ = await collect(source("http", billing.url + "/page/charges", options))
    assert len(records) == 250
    assert [query["page"] for _, query in billing.requests] == ["1", "2", "3"]


async def test_http_unpaginated_list(billing: BillingApi) -> None:
    billing.reset(charges(3))
    options = {"http": {"pagination": "none", "items_path": "", "page_size_param": ""}}
    records, _ = await collect(source("http", billing.url + "/list/charges", options))
    assert len(records) == 3


async def test_http_token_and_date_params(billing: BillingApi) -> None:
    billing.reset(charges(2), token="s3cret")
    options = {"http": {"params": {"due_from": "{from_date}", "due_to": "{to_date}"}}}
    src = source("http", billing.url + "/cursor/charges", options, source_token=SecretStr("s3cret"))
    records, _ = await collect(src)
    assert len(records) == 2
    query = billing.requests[0][1]
    assert (query["due_from"], query["due_to"]) == ("2025-03-03", "2025-03-10")


async def test_http_custom_auth_header(billing: BillingApi) -> None:
    billing.reset(charges(1), token="k")
    options = {"http": {"auth_header": "Authorization", "auth_scheme": "Bearer"}}
    src = source("http", billing.url + "/cursor/charges", options, source_token=SecretStr("k"))
    assert len((await collect(src))[0]) == 1
    src = source("http", billing.url + "/cursor/charges", {"http": {"auth_header": "X-Api-Key"}},
                 source_token=SecretStr("k"))  # fmt: skip
    with pytest.raises(SourceUnavailable, match="HTTP 401"):
        await collect(src)


async def test_http_retries_transient_failures(billing: BillingApi) -> None:
    billing.reset(charges(5))
    billing.fail_next = 2
    records, _ = await collect(source("http", billing.url + "/cursor/charges", source_attempts=3))
    assert len(records) == 5
    assert len(billing.requests) == 3


async def test_http_gives_up_after_the_attempts(billing: BillingApi) -> None:
    billing.reset(charges(5))
    billing.fail_always = True
    with pytest.raises(SourceUnavailable, match=r"HTTP 500 \(after 2 attempts\)"):
        await collect(source("http", billing.url + "/cursor/charges?key=secret", source_attempts=2))
    assert len(billing.requests) == 2


async def test_http_unreachable_names_host_not_query() -> None:
    url = f"http://127.0.0.1:{free_port()}/charges?token=secret"
    with pytest.raises(SourceUnavailable) as raised:
        await collect(source("http", url, source_attempts=1))
    assert "ConnectError" in str(raised.value)
    assert "secret" not in str(raised.value)


async def test_http_page_without_a_list(billing: BillingApi) -> None:
    billing.reset(charges(1))
    with pytest.raises(SourceUnavailable, match="no list of charges at results"):
        await collect(
            source("http", billing.url + "/cursor/charges", {"http": {"items_path": "results"}})
        )


def test_missing_location_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SOURCE_URL"):
        source("http")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        source("sql")


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "charges.csv"
    lines = [";".join(CSV_COLUMNS), 'c1;"Maria; da Silva";11987654321;1.234,56;10/03/2025;open;x',
             'c2;"Ana\nSouza";11987654322;10;2025-03-10;open;y']  # fmt: skip
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_local_csv_with_bom_quotes_and_delimiter(csv_file: Path) -> None:
    records, _ = await collect(source("file", str(csv_file), {"file": {"delimiter": ";"}}))
    assert [r["id"] for r in records] == ["c1", "c2"]
    assert records[0]["customer_name"] == "Maria; da Silva"
    assert records[1]["customer_name"] == "Ana\nSouza"


async def test_local_jsonl_bad_lines_are_invalid_records(tmp_path: Path) -> None:
    path = tmp_path / "charges.ndjson"
    path.write_bytes(b'{"id": "a"}\n\nnot json\n{"id": "b"}\n')
    src = source("file", str(path))
    records, _ = await collect(src)
    assert records[0] == {"id": "a"} and records[2] == {"id": "b"}
    assert isinstance(records[1], InvalidRecord)


async def test_file_progress_by_bytes(tmp_path: Path) -> None:
    path = tmp_path / "charges.jsonl"
    path.write_bytes(b"".join(orjson.dumps(c) + b"\n" for c in charges(5000)))
    src = source("file", str(path))
    fractions = [src.fraction_done() async for _ in src.batches()]
    assert fractions[0] is not None and 0 < fractions[0] < 1
    assert fractions[-1] == 1.0


@pytest.mark.parametrize("name", ["charges.csv", "charges.jsonl"])
async def test_file_over_http(billing: BillingApi, name: str) -> None:
    billing.reset(charges(2500), token="t")
    src = source("file", f"{billing.url}/files/{name}", source_token=SecretStr("t"))
    records, batches = await collect(src)
    assert [r["id"] for r in records][-1] == "c2499"
    assert batches == 3


async def test_file_problems() -> None:
    with pytest.raises(SourceUnavailable, match="No such file"):
        await collect(source("file", "/nonexistent/charges.csv"))
    with pytest.raises(SourceUnavailable, match="unknown file format"):
        source("file", "/data/charges.xlsx")
    url = f"http://127.0.0.1:{free_port()}/charges.csv"
    with pytest.raises(SourceUnavailable, match="ConnectError"):
        await collect(source("file", url, source_attempts=1))


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    """A charges table with 2,500 rows: due dates spread over 25 days before MONDAY."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS charges")
        conn.execute("CREATE SEQUENCE IF NOT EXISTS writes")
        conn.execute(
            "CREATE TABLE charges (id text PRIMARY KEY, customer_name text, phone text, "
            "amount numeric(12,2), currency text, due_date date, status text, payment_link text)"
        )
        rows = [
            (f"c{i}", "Maria", "11987654321", 10 + i, "BRL", MONDAY - timedelta(days=i % 25),
             "paid" if i % 10 == 0 else "open", f"https://pay/{i}")
            for i in range(2500)
        ]  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO charges VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", rows)
        yield postgres_url


def sql(url: str, query: str) -> Source:
    return source("sql", "", {"sql": {"query": query}}, database_url=SecretStr(url))


async def test_sql_streams_rows_in_batches(database: str) -> None:
    records, batches = await collect(sql(database, "SELECT * FROM charges ORDER BY id"))
    assert len(records) == 2500 and batches == 3
    first = records[0]
    assert first["due_date"] == MONDAY and str(first["amount"]) == "10.00"


async def test_sql_binds_the_run_dates(database: str) -> None:
    query = (
        "SELECT * FROM charges WHERE status <> 'paid' AND due_date BETWEEN :from_date AND :to_date"
    )
    records, _ = await collect(sql(database, query))
    due_dates = {r["due_date"] for r in records}
    assert min(due_dates) == date(2025, 3, 3) and max(due_dates) == MONDAY
    expected = [i for i in range(2500) if i % 25 <= 7 and i % 10 != 0]
    assert sorted(int(r["id"][1:]) for r in records) == expected


async def test_sql_is_read_only(database: str) -> None:
    with pytest.raises(SourceUnavailable, match="ReadOnlySqlTransaction"):
        await collect(sql(database, "SELECT nextval('writes') AS id"))
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM charges").fetchone() == (2500,)


async def test_sql_errors(database: str) -> None:
    with pytest.raises(SourceUnavailable, match="UndefinedTable"):
        await collect(sql(database, "SELECT * FROM invoices"))
    port = free_port()
    with pytest.raises(SourceUnavailable, match="OperationalError") as raised:
        await collect(sql(f"postgresql://reader:pw@127.0.0.1:{port}/billing", "SELECT 1"))
    assert "pw" not in str(raised.value).replace("***", "")
    with pytest.raises(ConfigError, match="query is empty"):
        sql(database, " ")
    with pytest.raises(ConfigError, match="not a database URL"):
        sql("not a url", "SELECT 1")
