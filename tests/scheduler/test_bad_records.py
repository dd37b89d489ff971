"""One bad billing record among good ones (issue #15): a due date past year 9999 in the time zone,
an amount of 1E+30, anything that breaks while one charge becomes messages, is that record's alone:
counted as an invalid record (number and masked id in the summary and the log) and the run goes
on, ending with its summary and last-run record as always."""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from service.queue.keys import DEFAULT
from service.scheduler.charge import FieldMap, template_context
from service.scheduler.masking import mask_id
from service.scheduler.plan import Planner
from service.scheduler.rules import RulesConfig
from service.scheduler.run import plan_record
from service.scheduler.status import read_last_run
from service.scheduler.summary import Summary
from service.settings import Settings
from tests.scheduler.billing_api import BillingApi
from tests.scheduler.conftest import MONDAY, SAO_PAULO, at, charge, records, run

BAD = [
    # 23:00 at UTC-5 on the last day of year 9999 is already year 10000 in São Paulo (UTC-3).
    charge("inv-far-future-9999", MONDAY, due_date="9999-12-31T23:00:00-05:00"),
    charge("inv-huge-amount-1e30", MONDAY, amount="1E+30"),
    charge("inv-before-year-one", MONDAY, due_date="0001-01-01T00:30:00+05:00"),
]


async def test_bad_records_are_counted_and_the_run_goes_on(
    ssettings: Settings,
    billing: BillingApi,
    redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = [charge(f"ok-{i}", MONDAY, phone=f"+55 11 9{i:08d}") for i in range(4)]
    billing.reset([good[0], BAD[0], good[1], BAD[1], good[2], BAD[2], good[3]])
    with caplog.at_level(logging.WARNING, logger="zapq.scheduler"):
        result = (await run(ssettings, at(MONDAY, 7))).result
    assert result["ok"], result["error"]
    assert (result["found"], result["invalid_records"], result["enqueued"]) == (7, 3, 4)
    assert result["per_rule"]["due_today"]["eligible"] == 4  # nothing counted for a bad one
    assert result["invalid_record_samples"] == [
        {"record": 2, "charge_id": mask_id(BAD[0]["id"]), "reason": "due date is out of range"},
        {"record": 4, "charge_id": mask_id(BAD[1]["id"]), "reason": "amount is out of range"},
        {"record": 6, "charge_id": mask_id(BAD[2]["id"]), "reason": "due date is out of range"},
    ]
    assert len(await records(redis)) == 4
    last = await read_last_run(redis, DEFAULT)
    assert last is not None and not last["last_failed"]
    assert last["summary"]["invalid_records"] == 3
    logged = [r for r in caplog.records if r.__dict__.get("kind") == "invalid_record"]
    assert [r.__dict__["record"] for r in logged] == [2, 4, 6]
    assert all(bad["id"] not in caplog.text for bad in BAD)


def test_ids_are_masked_to_their_last_third() -> None:
    assert mask_id("ch_0001234") == "*******234"
    assert mask_id("inv-far-future-9999") == "***************9999"
    assert mask_id("ab") == "**"


class _Unprintable:
    """A value a real source never yields: str() of it fails with an error nobody foresaw."""

    def __str__(self) -> str:
        raise RuntimeError("boom")


def test_any_error_in_one_record_is_an_invalid_record(settings: Settings) -> None:
    summary = Summary(MONDAY, False, "http", [])
    config = RulesConfig()
    summary.set_rules([rule.name for rule in config.rules])
    planner = Planner(config, settings, MONDAY, at(MONDAY, 7), summary)
    zone = ZoneInfo(settings.schedule.time_zone)
    assert zone == SAO_PAULO
    summary.found = 1
    broken = charge("c-broken-01", MONDAY, customer_name=_Unprintable())
    assert plan_record(broken, FieldMap(), planner, zone) == []
    summary.found = 2
    assert len(plan_record(charge("c-good-02", MONDAY), FieldMap(), planner, zone)) == 1
    assert summary.invalid_records == 1
    assert summary.invalid_samples == [
        {"record": 1, "charge_id": "********-01", "reason": "cannot be planned: RuntimeError"}
    ]
    assert summary.per_rule["due_today"]["planned"] == 1


def test_the_largest_amount_and_latest_date_still_format() -> None:
    at_the_edge = charge("edge", date(9999, 12, 31), amount="999999999999999.99")
    context = template_context(FieldMap().to_charge(at_the_edge, SAO_PAULO), MONDAY)
    assert (context["amount"], context["due_date"]) == ("R$ 999.999.999.999.999,99", "31/12/9999")
