"""pt-BR formatting, templates and the field mapping: pure functions, no servers needed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from service.scheduler.charge import STANDARD_FIELDS, FieldMap, InvalidRecord, template_context
from service.scheduler.ptbr import display_name, first_name, format_date, format_money
from service.scheduler.templates import Template, TemplateRenderError, TemplateSyntaxError
from tests.scheduler.conftest import SAO_PAULO


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("1234.56", "BRL", "R$ 1.234,56"),
        ("0.5", "BRL", "R$ 0,50"),
        ("1234567.891", "BRL", "R$ 1.234.567,89"),
        ("100", "BRL", "R$ 100,00"),
        ("999.995", "BRL", "R$ 1.000,00"),
        ("-5", "BRL", "-R$ 5,00"),
        ("12.3", "usd", "US$ 12,30"),
        ("7", "ARS", "ARS 7,00"),
    ],
)
def test_money(amount: str, currency: str, text: str) -> None:
    assert format_money(Decimal(amount), currency) == text


def test_dates_and_names() -> None:
    assert format_date(date(2025, 3, 9)) == "09/03/2025"
    assert first_name("  MARIA DA SILVA ") == "Maria"
    assert first_name("joão pedro") == "João"
    assert first_name("ana-maria souza") == "Ana-Maria"
    assert first_name("") == ""
    assert display_name("MARIA DA SILVA e SOUZA") == "Maria da Silva e Souza"


@pytest.mark.parametrize(
    "source",
    ["{first_name.__class__}", "{amount[0]}", "{amount!r}", "{}", "{0}", "{name", "{x:{y}}", " "],
)
def test_unsafe_or_broken_templates_are_refused_at_load(source: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        Template(source, STANDARD_FIELDS | {"x", "y"})


def test_unknown_field_is_named() -> None:
    with pytest.raises(TemplateSyntaxError, match="primeiro_nome"):
        Template("Olá {primeiro_nome}", STANDARD_FIELDS)


def test_render_fails_per_charge_on_empty_field_or_length() -> None:
    template = Template("Olá {first_name}, pague: {payment}", STANDARD_FIELDS)
    assert template.render({"first_name": "Ana", "payment": "x"}, 100) == "Olá Ana, pague: x"
    with pytest.raises(TemplateRenderError, match="payment"):
        template.render({"first_name": "Ana", "payment": ""}, 100)
    with pytest.raises(TemplateRenderError, match="limit"):
        template.render({"first_name": "Ana", "payment": "x" * 200}, 100)
    with pytest.raises(TemplateRenderError):
        Template("{amount:d}", STANDARD_FIELDS).render({"amount": "R$ 1,00"}, 100)


def test_mapping_reads_nested_paths_cents_statuses_and_extras() -> None:
    fields = FieldMap(
        id="code",
        customer_name="customer.name",
        phone="customer.phones.mobile",
        amount="value_cents",
        amount_unit="cents",
        due_date="dueDate",
        status="state",
        pix_code="pix.emv",
        extras={"plan": "contract.plan"},
        status_map={"PENDING": "open"},
    )
    record = {
        "code": 42,
        "customer": {"name": "Ana Souza", "phones": {"mobile": "11987654321"}},
        "value_cents": 123456,
        "dueDate": "10/03/2025",
        "state": "PENDING",
        "pix": {"emv": "00020126PIX"},
        "contract": {"plan": "Fibra 500"},
    }
    charge = fields.to_charge(record, SAO_PAULO)
    assert (charge.id, charge.amount, charge.due_date, charge.status) == (
        "42",
        Decimal("1234.56"),
        date(2025, 3, 10),
        "open",
    )
    context = template_context(charge, date(2025, 3, 12))
    assert context["payment"] == "00020126PIX"
    assert context["plan"] == "Fibra 500"
    assert (context["days_overdue"], context["days_until_due"]) == ("2", "0")
    assert context["amount"] == "R$ 1.234,56"
    assert context["currency"] == "BRL"


def test_due_timestamps_are_read_in_the_time_zone() -> None:
    fields = FieldMap()
    base = {"id": "1", "amount": "1", "status": "open"}
    # 01:30 UTC on the 11th is still the 10th in São Paulo (UTC-3).
    utc = fields.to_charge({**base, "due_date": "2025-03-11T01:30:00+00:00"}, SAO_PAULO)
    assert utc.due_date == date(2025, 3, 10)
    from_db = fields.to_charge(
        {**base, "due_date": datetime(2025, 3, 11, 1, 30, tzinfo=UTC)}, SAO_PAULO
    )
    assert from_db.due_date == date(2025, 3, 10)
    assert fields.to_charge({**base, "due_date": date(2025, 3, 11)}, SAO_PAULO).due_date.day == 11


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"amount": "1", "due_date": "2025-03-10"}, "no charge id"),
        ({"id": "1", "amount": "abc", "due_date": "2025-03-10"}, "amount"),
        ({"id": "1", "amount": "NaN", "due_date": "2025-03-10"}, "amount"),
        ({"id": "1", "amount": "1", "due_date": "31/02/2025"}, "due date"),
        ({"id": "1", "amount": "1"}, "due date"),
        ("not an object", "no charge id"),
    ],
)
def test_unreadable_records(record: object, reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason):
        FieldMap().to_charge(record, SAO_PAULO)


def test_extras_cannot_shadow_standard_fields() -> None:
    with pytest.raises(ValueError, match="amount"):
        FieldMap(extras={"amount": "x"})
