"""The rules file: which charges get which message when (YAML, mounted from a ConfigMap).

Without a file the built-in classic set applies (examples/rules.yaml spells it out): a reminder 3
days before the due date, one on the due date, and overdue notices 1, 3 and 7 days after. Every
problem in the file (unknown key, bad window, a template with a typo) is reported when it is
loaded, before any charge is read, so a broken ConfigMap fails the run loudly instead of quietly
skipping a rule every morning.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from service.queue.keys import Priority
from service.scheduler.charge import STANDARD_FIELDS
from service.scheduler.errors import RulesError
from service.scheduler.sources.options import SourceOptions
from service.scheduler.templates import Template, TemplateSyntaxError

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Span(NamedTuple):
    """A daily time span [start, end) in the configured time zone."""

    start: time
    end: time


def _span(value: Any) -> Any:
    """ "08:00-20:00" -> Span; "24:00" may end a span (midnight)."""
    if not isinstance(value, str):
        return value
    try:
        first, last = (part.strip() for part in value.split("-"))
        end = time.max if last == "24:00" else time.fromisoformat(last)
        span = Span(time.fromisoformat(first), end)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a span like 08:00-20:00") from exc
    if span.start >= span.end:
        raise ValueError(f"{value!r} ends before it starts")
    return span


SpanField = Annotated[Span, BeforeValidator(_span)]
_SHOP_HOURS = Span(time(8), time(20))


class Calendar(BaseModel):
    """When messages may be sent at all: hours per weekday (absent or null: closed) and holidays."""

    model_config = ConfigDict(extra="forbid")

    allowed_hours: dict[Weekday, SpanField | None] = Field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS[:6], _SHOP_HOURS)  # type: ignore[arg-type]
    )
    holidays: list[date] = Field(default_factory=list)

    def hours(self, day: date) -> Span | None:
        if day in self.holidays:
            return None
        return self.allowed_hours.get(WEEKDAYS[day.weekday()])


class Document(BaseModel):
    """A document sent with a rule's message (the charge's boleto, say): the message becomes a
    media message whose caption is the rule's text. Evolution downloads the URL when it sends the
    message, so a signed link must stay valid until the message's window ends (retries included)."""

    model_config = ConfigDict(extra="forbid")

    #: A template that renders to an https URL, e.g. "{boleto_url}" (a source extra field).
    url: str
    #: A template for the name the recipient sees.
    file_name: str = "fatura-{charge_id}.pdf"
    mimetype: str = Field("application/pdf", pattern=r"^[\w.+-]+/[\w.+-]+$")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Part of every message's idempotency key and a metric label: keep it stable once in use.
    name: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    #: Days after the due date: -3 is three days before, 0 the due date, 7 a week overdue.
    offset_days: int = Field(ge=-366, le=366)
    #: Charge statuses this rule applies to (after the mapping's status_map).
    statuses: list[str] = Field(default_factory=lambda: ["open", "overdue"])
    template: str
    priority: Priority = Priority.NORMAL
    #: Sends go out within this span of the day (inside the allowed hours); absent: all of them.
    window: SpanField | None = None
    #: true: send times spread evenly over the window; false: all due at its start (or now), as
    #: fast as the workers' limiters allow.
    spread: bool = True
    #: Attach a document (the message is then a media message with the text as its caption).
    document: Document | None = None

    @model_validator(mode="after")
    def _lower(self) -> Rule:
        self.statuses = [status.lower() for status in self.statuses]
        return self


DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "due_in_3_days",
        "offset_days": -3,
        "statuses": ["open"],
        "priority": "low",
        "window": "09:00-18:00",
        "template": "Olá, {first_name}! Lembrete: sua fatura de {amount} vence em {due_date}. "
        "Para pagar: {payment}",
    },
    {
        "name": "due_today",
        "offset_days": 0,
        "statuses": ["open"],
        "window": "09:00-12:00",
        "template": "Olá, {first_name}! Sua fatura de {amount} vence hoje ({due_date}). "
        "Para pagar: {payment}",
    },
    *(
        {
            "name": f"overdue_{days}_day{'s' if days > 1 else ''}",
            "offset_days": days,
            "window": "09:00-18:00",
            "template": "Olá, {first_name}. Sua fatura de {amount}, vencida em {due_date}, "
            "está em aberto há {days_overdue} dia" + ("s" if days > 1 else "") + ". "
            "Para regularizar: {payment}",
        }
        for days in (1, 3, 7)
    ),
]


class RulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=lambda: [Rule(**rule) for rule in DEFAULT_RULES])
    #: Charges in these statuses are never messaged, whatever the rules say.
    skip_statuses: list[str] = Field(
        default_factory=lambda: ["paid", "cancelled", "canceled", "refunded"]
    )
    calendar: Calendar = Field(default_factory=Calendar)
    source: SourceOptions = Field(default_factory=SourceOptions)

    @model_validator(mode="after")
    def _check(self) -> RulesConfig:
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be unique")
        if not self.rules:
            raise ValueError("no rules")
        self.skip_statuses = [status.lower() for status in self.skip_statuses]
        known = STANDARD_FIELDS | set(self.source.fields.extras)
        for rule in self.rules:
            parts = {"template": rule.template}
            if rule.document is not None:
                parts |= {"document.url": rule.document.url}
                parts |= {"document.file_name": rule.document.file_name}
            for part, text in parts.items():
                try:
                    Template(text, known)
                except TemplateSyntaxError as exc:
                    raise ValueError(f"rule {rule.name}: {part}: {exc}") from exc
        return self

    def templates(self) -> dict[str, Template]:
        known = STANDARD_FIELDS | set(self.source.fields.extras)
        return {rule.name: Template(rule.template, known) for rule in self.rules}

    def documents(self) -> dict[str, tuple[Template, Template]]:
        """Rule name -> (URL template, file name template), for the rules that attach one."""
        known = STANDARD_FIELDS | set(self.source.fields.extras)
        return {
            rule.name: (
                Template(rule.document.url, known),
                Template(rule.document.file_name, known),
            )
            for rule in self.rules
            if rule.document is not None
        }


def load_rules(path: str | Path | None) -> RulesConfig:
    """The rules file at ``path``, or the built-in rules when ``path`` is empty."""
    if not path:
        return RulesConfig()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: {exc}") from exc
    try:
        return RulesConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise RulesError(f"{path}: {problems}") from exc
