"""Whole runs in-process against real Redis and the billing API: what gets enqueued, when, once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from redis.asyncio import Redis

from service import metrics
from service.devstack import free_port
from service.queue import keys
from service.queue.keys import DEFAULT
from service.queue.models import Content
from service.scheduler.status import read_last_run
from service.settings import Settings
from tests.scheduler.billing_api import BillingApi
from tests.scheduler.conftest import MONDAY, SAO_PAULO, at, charge, configure, records, run

DAY = timedelta(days=1)


def rules_file(tmp_path: Path, rules: list[dict[str, Any]], **extra: Any) -> str:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": rules, **extra}))
    return str(path)


async def test_each_rule_enqueues_its_charges_once(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([
        charge("in3", MONDAY + 3 * DAY),
        charge("today", MONDAY),
        charge("late1", MONDAY - DAY),
        charge("late3", MONDAY - 3 * DAY, status="overdue"),
        charge("late7", MONDAY - 7 * DAY),
        charge("late2", MONDAY - 2 * DAY),  # no rule on day 2
        charge("in3_paid", MONDAY + 3 * DAY, status="PAID"),
        charge("today_cancelled", MONDAY, status="cancelled"),
        charge("in3_overdue", MONDAY + 3 * DAY, status="overdue"),  # due_in_3_days: open only
    ])  # fmt: skip
    first = await run(ssettings, at(MONDAY, 7))
    result = first.result
    assert result["ok"], result
    assert result["eligible"] == {
        "due_in_3_days": 1, "due_today": 1, "overdue_1_day": 1, "overdue_3_days": 1,
        "overdue_7_days": 1,
    }  # fmt: skip
    assert (result["found"], result["enqueued"], result["deduped"]) == (9, 5, 0)
    assert result["skipped_paid_or_cancelled"] == 2
    stored = {r.idempotency_key: r for r in await records(redis)}
    assert set(stored) == {
        "charge:in3:due_in_3_days:2025-03-13",
        "charge:today:due_today:2025-03-10",
        "charge:late1:overdue_1_day:2025-03-09",
        "charge:late3:overdue_3_days:2025-03-07",
        "charge:late7:overdue_7_days:2025-03-03",
    }
    today = stored["charge:today:due_today:2025-03-10"]
    assert today.to == "5511987654321"
    assert today.source == "scheduler"
    assert today.metadata == {"charge_id": "today", "rule": "due_today"}
    assert today.priority == "normal"
    assert today.status == "scheduled"
    assert today.send_at_ms == at(MONDAY, 9)  # the first of a spread is the window start
    assert today.expires_at_ms == at(MONDAY, 12)  # never delivered after the window
    assert stored["charge:in3:due_in_3_days:2025-03-13"].priority == "low"

    second = await run(ssettings, at(MONDAY, 7, 5))
    assert (second.result["enqueued"], second.result["deduped"]) == (0, 5)
    assert len(await records(redis)) == 5


async def test_texts_are_pt_br(ssettings: Settings, billing: BillingApi, redis: Redis) -> None:
    billing.reset(
        [
            charge("a", MONDAY, amount="1234.5"),
            charge("b", MONDAY - 3 * DAY, pix_code="PIX123", payment_link=""),
        ]
    )
    await run(ssettings, at(MONDAY, 7))
    texts = {r.metadata["charge_id"]: r for r in await records(redis) if r.metadata}
    a = await _text(redis, texts["a"].id)
    assert a == (
        "Olá, Maria! Sua fatura de R$ 1.234,50 vence hoje (10/03/2025). "
        "Para pagar: https://pay.example/a"
    )
    b = await _text(redis, texts["b"].id)
    assert "vencida em 07/03/2025, está em aberto há 3 dias. Para regularizar: PIX123" in b


async def _text(redis: Redis, message_id: str) -> str:
    raw = await redis.hget(keys.DEFAULT.message(message_id), "payload")  # type: ignore[misc]
    return Content.decode(raw).text


@pytest.mark.parametrize(
    ("run_date", "due_dates"),
    [
        # offsets -3, 0, +1, +3, +7 across month ends, a leap day and a year end
        (date(2025, 3, 3), ["2025-03-06", "2025-03-03", "2025-03-02", "2025-02-28", "2025-02-24"]),
        (date(2024, 3, 1), ["2024-03-04", "2024-03-01", "2024-02-29", "2024-02-27", "2024-02-23"]),
        (date(2025, 1, 2), ["2025-01-05", "2025-01-02", "2025-01-01", "2024-12-30", "2024-12-26"]),
        (date(2025, 4, 29), ["2025-05-02", "2025-04-29", "2025-04-28", "2025-04-26", "2025-04-22"]),
    ],
)
async def test_offsets_across_month_and_year_ends(
    ssettings: Settings, billing: BillingApi, redis: Redis, run_date: date, due_dates: list[str]
) -> None:
    decoys = [date.fromisoformat(d) + DAY for d in due_dates[1:]]
    billing.reset(
        [charge(f"c{i}", date.fromisoformat(d)) for i, d in enumerate(due_dates)]
        + [charge(f"decoy{i}", d) for i, d in enumerate(decoys) if d.isoformat() not in due_dates]
    )
    result = (await run(ssettings, at(run_date, 6), run_date=run_date)).result
    assert list(result["eligible"].values()) == [1, 1, 1, 1, 1], result


async def test_run_date_is_today_in_the_time_zone(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge("sp", MONDAY), charge("tokyo", MONDAY + DAY)])
    # 23:30 in São Paulo on Monday is already Tuesday 11:30 in Tokyo.
    late = at(MONDAY, 23, 30)
    sp = (await run(configure(ssettings, allow_empty_source=True), late, dry_run=True)).summary
    assert sp.run_date == MONDAY
    tokyo = (await run(configure(ssettings, time_zone="Asia/Tokyo"), late, dry_run=True)).summary
    assert tokyo.run_date == MONDAY + DAY
    assert tokyo.per_rule["due_today"]["eligible"] == 1
    assert tokyo.per_rule["due_today"]["planned"] == 1  # 11:30 Tokyo: the 09-12 window is open


async def test_quiet_hours_move_and_stop_sends(
    ssettings: Settings, billing: BillingApi, redis: Redis, tmp_path: Path
) -> None:
    rules = [{"name": "early", "offset_days": 0, "template": "oi {first_name}",
              "window": "06:00-10:00", "spread": False}]  # fmt: skip
    path = rules_file(tmp_path, rules, calendar={"allowed_hours": {"mon": "08:00-20:00"}})
    billing.reset([charge("a", MONDAY)])
    await run(ssettings, at(MONDAY, 5), rules_file=path)
    (record,) = await records(redis)
    assert (record.send_at_ms, record.expires_at_ms) == (at(MONDAY, 8), at(MONDAY, 10))
    # After the window: nothing is sent today, and the charge is counted as outside its window.
    await redis.flushdb()
    late = (await run(ssettings, at(MONDAY, 10, 1), rules_file=path)).result
    assert (late["outside_window"], late["enqueued"]) == (1, 0)
    # Tuesday is not listed in allowed_hours: closed.
    billing.reset([charge("b", MONDAY + DAY)])
    closed = (await run(ssettings, at(MONDAY + DAY, 5), rules_file=path)).result
    assert closed["outside_window"] == 1 and await records(redis) == []


async def test_sends_spread_evenly_over_the_window(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    count = 600
    billing.reset([charge(f"c{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(count)])
    result = (await run(configure(ssettings, enqueue_chunk_size=128), at(MONDAY, 7))).result
    assert result["enqueued"] == count
    send_at = sorted(r.send_at_ms for r in await records(redis) if r.send_at_ms)
    start, end = at(MONDAY, 9), at(MONDAY, 12)
    assert send_at[0] == start and send_at[-1] < end
    gaps = [b - a for a, b in itertools.pairwise(send_at)]
    assert max(gaps) <= 2 * (end - start) / count
    # A third of the window holds a third of the sends.
    first_hour = sum(1 for t in send_at if t < start + 3_600_000)
    assert abs(first_hour - count / 3) <= 2


async def test_a_run_inside_the_window_uses_what_is_left(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge(f"c{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(10)])
    now = at(MONDAY, 11)
    await run(ssettings, now)
    stored = await records(redis)
    assert min(r.send_at_ms or 0 for r in stored) == now
    assert all(now <= (r.send_at_ms or 0) < at(MONDAY, 12) for r in stored)
    assert {r.status for r in stored} == {"queued", "scheduled"}  # the first one is due at once


async def test_two_concurrent_runs_enqueue_each_message_once(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge(f"c{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(1500)])
    settings = configure(ssettings, enqueue_chunk_size=100)
    before = metrics.DEDUPLICATED.labels("scheduler")._value.get()
    one, two = await asyncio.gather(run(settings, at(MONDAY, 7)), run(settings, at(MONDAY, 7)))
    enqueued = one.result["enqueued"] + two.result["enqueued"]
    deduped = one.result["deduped"] + two.result["deduped"]
    assert (enqueued, deduped) == (1500, 1500)
    assert len(await records(redis)) == 1500
    assert await redis.zcard(keys.DEFAULT.scheduled) == 1500
    assert metrics.DEDUPLICATED.labels("scheduler")._value.get() - before == 1500


async def test_dedupe_key_outlives_the_send_window(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge("a", MONDAY)])
    await run(configure(ssettings, dedupe_margin_seconds=3600), at(MONDAY, 7))
    (key,) = [k async for k in redis.scan_iter(match="{zapq}:idem:scheduler:*")]
    # expires 12:00, enqueued at 07:00: 5 h to the end of the window + the 1 h margin.
    assert abs(await redis.pttl(key) - 6 * 3_600_000) < 5_000


async def test_per_charge_problems_are_counted_not_fatal(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([
        charge("ok", MONDAY),
        charge("no_payment", MONDAY, payment_link=""),  # {payment} is empty
        charge("bad_phone", MONDAY, phone="12345"),
        {"customer_name": "no id", "due_date": MONDAY.isoformat()},
        charge("bad_amount", MONDAY, amount="twelve"),
    ])  # fmt: skip
    result = (await run(ssettings, at(MONDAY, 7))).result
    assert result["ok"]
    assert (result["template_errors"], result["invalid_phone"]) == (1, 1)
    assert (result["invalid_records"], result["enqueued"]) == (2, 1)
    assert result["per_rule"]["due_today"] == {
        "eligible": 3, "planned": 1, "enqueued": 1, "deduped": 0, "suppressed": 0,
        "outside_window": 0, "invalid_phone": 1, "template_errors": 1,
    }  # fmt: skip


async def test_dry_run_enqueues_and_records_nothing(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge(f"c{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(8)])
    done = await run(configure(ssettings, dry_run_sample_size=3), at(MONDAY, 7), dry_run=True)
    assert await redis.dbsize() == 0
    assert done.result["planned"] == 8 and done.result["enqueued"] == 0
    assert "sample (3 of 8, masked)" in done.out
    assert "[due_today] charge ** to 55*******0000 at 09:00 (expires 12:00), 97 characters" in (
        done.out
    )
    assert "Olá, M****! Sua fatura de R$ 1.234,56 vence hoje (10/03/2025)" in done.out
    assert done.out.count("Olá") == 3
    assert "+55 11 9" not in done.out


async def test_dry_run_prints_no_number_link_id_or_name(
    ssettings: Settings, billing: BillingApi, redis: Redis, tmp_path: Path
) -> None:
    """The sample goes to the pod log: masked as the logs are (issue #15)."""
    link = "https://pay.example/boleto/inv-2025-0042-77?t=9f8e7d"
    pix = "00020126580014br.gov.bcb.pix0136a629534e-7693-4846-b028-f142082d7b230204"
    billing.reset([
        charge("inv-2025-0042-77", MONDAY, customer_name="JOANA PEREIRA", phone="+55 21 99876-1234",
               payment_link=link),
        charge("inv-2025-0043-88", MONDAY - 3 * DAY, customer_name="JOANA PEREIRA",
               phone="+55 21 99876-1234", payment_link="", pix_code=pix),
    ])  # fmt: skip
    rules = rules_file(tmp_path, [
        {"name": "due_today", "offset_days": 0, "template": "{name}: {amount}, {payment}"},
        {"name": "late", "offset_days": 3, "template": "{first_name} ({charge_id}): {pix_code}"},
    ])  # fmt: skip
    done = await run(configure(ssettings, rules_file=rules), at(MONDAY, 7), dry_run=True)
    assert done.result["planned"] == 2
    for secret in ["inv-2025-0042-77", "inv-2025-0043-88", "boleto", "9f8e7d", pix, "Joana",
                   "Pereira", "JOANA", "5521998761234", "99876-1234"]:  # fmt: skip
        assert secret not in done.out, secret
    assert "J**** P******: R$ 1.234,56, https://pay.example/..." in done.out
    assert f"J**** (************3-88): [{len(pix)} characters]" in done.out
    assert "to 55*******1234" in done.out


async def test_dry_run_of_another_day_shows_that_whole_day(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge("a", MONDAY)])
    # Replaying Monday on Wednesday: a real run would find every window over.
    wednesday = at(MONDAY + 2 * DAY, 10)
    replay = (await run(ssettings, wednesday, run_date=MONDAY)).result
    assert (replay["outside_window"], replay["enqueued"]) == (1, 0)
    dry = await run(ssettings, wednesday, run_date=MONDAY, dry_run=True)
    assert dry.result["planned"] == 1
    assert "09:00-12:00" in dry.out


async def test_last_run_is_recorded_and_success_time_survives_a_failure(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    assert await read_last_run(redis, DEFAULT) is None
    billing.reset([charge("a", MONDAY)])
    await run(ssettings, at(MONDAY, 7))
    good = await read_last_run(redis, DEFAULT)
    assert good is not None and not good["last_failed"]
    assert good["last_success_at"] == good["last_run_at"]
    assert good["summary"]["enqueued"] == 1
    billing.fail_always = True
    failed = await run(configure(ssettings, source_attempts=1), at(MONDAY, 7))
    assert failed.result["error_code"] == "source_unavailable"
    bad = await read_last_run(redis, DEFAULT)
    assert bad is not None and bad["last_failed"]
    assert bad["last_success_at"] == good["last_success_at"] < bad["last_run_at"]
    assert bad["summary"]["ok"] is False


@pytest.mark.parametrize(
    ("records_", "code"),
    [([], "empty_source"), ([{"name": "x"}, {"id": "1", "amount": "?"}], "unreadable_source")],
)
async def test_nothing_read_fails_the_run(
    ssettings: Settings, billing: BillingApi, redis: Redis, records_: list[Any], code: str
) -> None:
    billing.reset(records_)
    result = (await run(ssettings, at(MONDAY, 7))).result
    assert (result["ok"], result["error_code"]) == (False, code)


async def test_empty_source_may_be_allowed(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    result = (await run(configure(ssettings, allow_empty_source=True), at(MONDAY, 7))).result
    assert result["ok"] and result["found"] == 0


async def test_failure_mid_stream_keeps_what_was_enqueued(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    billing.reset([charge(f"c{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(1200)])
    settings = configure(ssettings, source_attempts=1, enqueue_chunk_size=1000)
    # The billing API fails after the first page: the run fails, its first page is still enqueued
    # (flushed though the chunk is not full), and the retried Job finishes the work without
    # sending anything twice.
    billing.fail_from = 1
    failed = (await run(settings, at(MONDAY, 7))).result
    assert failed["ok"] is False and failed["enqueued"] == 500
    billing.fail_from = None
    retried = (await run(settings, at(MONDAY, 7))).result
    assert (retried["enqueued"], retried["deduped"]) == (700, 500)


async def test_unknown_rules_file_fails_before_reading(
    ssettings: Settings, billing: BillingApi, redis: Redis
) -> None:
    result = (await run(ssettings, at(MONDAY, 7), rules_file="/nonexistent.yaml")).result
    assert result["error_code"] == "invalid_rules"
    assert billing.requests == []
    last = await read_last_run(redis, DEFAULT)
    assert last is not None and last["last_failed"]


async def test_redis_down_fails_the_run(ssettings: Settings, billing: BillingApi) -> None:
    billing.reset([charge("a", MONDAY)])
    url = SecretStr(f"redis://127.0.0.1:{free_port()}/0")
    down = ssettings.model_copy(update={"redis_url": url, "redis_timeout_seconds": 0.5})
    result = (await run(down, at(MONDAY, 7))).result
    assert result["error_code"] == "redis_unavailable"


def test_zone_constant_matches_default(settings: Settings) -> None:
    assert settings.schedule.time_zone == SAO_PAULO.key


async def test_a_rule_can_attach_the_charges_document(
    ssettings: Settings, billing: BillingApi, redis: Redis, tmp_path: Path
) -> None:
    """A rule with a document sends a media message (the boleto) with the text as its caption; a
    charge whose URL does not render to https is a template error, counted and not sent."""
    billing.reset([
        charge("b1", MONDAY, boleto="https://boletos.example/b1.pdf?sig=x"),
        charge("b2", MONDAY, boleto="http://boletos.example/b2.pdf"),
    ])  # fmt: skip
    rule = {
        "name": "due_today",
        "offset_days": 0,
        "template": "Olá, {first_name}! Segue o boleto de {amount}.",
        "document": {"url": "{boleto}", "file_name": "boleto-{charge_id}.pdf"},
    }
    path = rules_file(tmp_path, [rule], source={"fields": {"extras": {"boleto": "boleto"}}})
    result = (await run(ssettings, at(MONDAY, 7), rules_file=path)).result
    assert (result["enqueued"], result["template_errors"]) == (1, 1)
    [record] = await records(redis)
    content = record.content
    assert (content.kind, content.text) == ("media", "Olá, Maria! Segue o boleto de R$ 1.234,56.")
    assert content.media is not None
    assert (content.media.mediatype, content.media.media, content.media.file_name) == (
        "document",
        "https://boletos.example/b1.pdf?sig=x",
        "boleto-b1.pdf",
    )
