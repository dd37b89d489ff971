"""A charge (cobrança) as every source yields it, and the field mapping from a source's records.

Sources hand over plain records (a JSON object, a CSV row, a SQL row); ``FieldMap.to_charge`` reads
our fields from them by name or dotted path (``customer.phone``), so one mapping serves all three.
A record that cannot be read raises InvalidRecord: that charge is counted, the run goes on (so
does any other error one record causes: see run.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.scheduler.ptbr import display_name, first_name, format_date, format_money

#: What a template may use besides the extras the mapping declares.
STANDARD_FIELDS: frozenset[str] = frozenset(
    {
        "charge_id",
        "name",
        "first_name",
        "amount",
        "currency",
        "due_date",
        "days_until_due",
        "days_overdue",
        "payment_link",
        "pix_code",
        "payment",
    }
)


class InvalidRecord(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Charge:
    id: str
    customer_name: str
    phone: str
    amount: Decimal
    currency: str
    due_date: date
    #: Lowercased, after FieldMap.status_map.
    status: str
    payment_link: str = ""
    pix_code: str = ""
    extras: dict[str, str] = field(default_factory=dict)


def template_context(charge: Charge, run_date: date) -> dict[str, str]:
    """Every template field as display text (pt-BR); an absent value is "" (a render error)."""
    days = (charge.due_date - run_date).days
    return {
        **charge.extras,
        "charge_id": charge.id,
        "name": display_name(charge.customer_name),
        "first_name": first_name(charge.customer_name),
        "amount": format_money(charge.amount, charge.currency),
        "currency": charge.currency,
        "due_date": format_date(charge.due_date),
        "days_until_due": str(max(days, 0)),
        "days_overdue": str(max(-days, 0)),
        "payment_link": charge.payment_link,
        "pix_code": charge.pix_code,
        "payment": charge.payment_link or charge.pix_code,
    }


def lookup(record: Any, path: str) -> Any:
    """A flat key first (CSV headers may contain dots), then the dotted path into nested objects."""
    if isinstance(record, dict) and path in record:
        return record[path]
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# No charge reaches a quadrillion; below it every amount formats to cents (pt-BR text quantizes
# within Decimal's 28 significant digits: 1E+30 could not be formatted at all).
_MAX_AMOUNT = Decimal(10) ** 15


def parse_amount(value: Any, unit: str) -> Decimal:
    """123.4, "123.40", "1.234,56" (pt-BR) or integer cents when unit is "cents"."""
    text = _text(value)
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidRecord("amount is not a number") from exc
    if not amount.is_finite():
        raise InvalidRecord("amount is not a number")
    if abs(amount) >= _MAX_AMOUNT:
        raise InvalidRecord("amount is out of range")
    return amount / 100 if unit == "cents" else amount


def parse_due_date(value: Any, zone: ZoneInfo) -> date:
    """A date, "2025-03-10", "10/03/2025", or a timestamp (read in ``zone``: 23:00Z is still the
    previous day in São Paulo)."""
    try:
        return _due_date(value, zone)
    except OverflowError as exc:  # 9999-12-31T23:00-05:00 is past year 9999 in São Paulo
        raise InvalidRecord("due date is out of range") from exc
    except (ValueError, IndexError) as exc:
        raise InvalidRecord("due date is not a date") from exc


def _due_date(value: Any, zone: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if len(text) == 10 and text[2] == "/" and text[5] == "/":
        return date(int(text[6:]), int(text[3:5]), int(text[:2]))
    if len(text) == 10:
        return date.fromisoformat(text)
    return _due_date(datetime.fromisoformat(text), zone)


def record_id(record: Any, fields: FieldMap) -> str:
    """The charge id of a record that could not be read, if it has one (for the logs)."""
    value = lookup(record, fields.id) if isinstance(record, dict) else None
    return _text(value) if isinstance(value, str | int) else ""


class FieldMap(BaseModel):
    """Where each Charge field is in a source record (a key, column or dotted path)."""

    model_config = ConfigDict(extra="forbid")

    id: str = "id"
    customer_name: str = "customer_name"
    phone: str = "phone"
    amount: str = "amount"
    currency: str = "currency"
    due_date: str = "due_date"
    status: str = "status"
    payment_link: str = "payment_link"
    pix_code: str = "pix_code"
    #: Extra template fields: template field name -> path in the record.
    extras: dict[str, str] = Field(default_factory=dict)
    #: "units": 1234.56; "cents": 123456.
    amount_unit: Literal["units", "cents"] = "units"
    #: When a record has no currency.
    default_currency: str = "BRL"
    #: The source's status values -> ours (compared lowercased), e.g. {"PENDING": "open"}.
    status_map: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _extras_are_new_names(self) -> FieldMap:
        clash = sorted(set(self.extras) & STANDARD_FIELDS)
        bad = sorted(name for name in self.extras if not name.isidentifier())
        if clash or bad:
            raise ValueError(f"extras cannot be named {', '.join(clash + bad)}")
        self.status_map = {k.lower(): v.lower() for k, v in self.status_map.items()}
        return self

    def to_charge(self, record: Any, zone: ZoneInfo) -> Charge:
        charge_id = _text(lookup(record, self.id))
        if not charge_id:
            raise InvalidRecord("no charge id")
        raw_status = _text(lookup(record, self.status)).lower()
        return Charge(
            id=charge_id,
            customer_name=_text(lookup(record, self.customer_name)),
            phone=_text(lookup(record, self.phone)),
            amount=parse_amount(lookup(record, self.amount), self.amount_unit),
            currency=_text(lookup(record, self.currency)).upper() or self.default_currency,
            due_date=parse_due_date(lookup(record, self.due_date), zone),
            status=self.status_map.get(raw_status, raw_status),
            payment_link=_text(lookup(record, self.payment_link)),
            pix_code=_text(lookup(record, self.pix_code)),
            extras={name: _text(lookup(record, path)) for name, path in self.extras.items()},
        )
