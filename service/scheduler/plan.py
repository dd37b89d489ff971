"""From one charge to the messages it gets today: rule match, window, phone, text. No I/O.

A charge matches a rule when the run date is ``offset_days`` after its due date and its status is
one of the rule's; paid and cancelled charges (``skip_statuses``) match nothing. Each message's
idempotency key is ``charge:<id>:<rule>:<due date>``: the same reminder for the same due date is one
message however often, and however concurrently, the run is repeated. A new due date (a
renegotiated charge) is a new reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from service.phones import normalize_phone
from service.queue.models import NewMessage
from service.scheduler.charge import Charge, template_context
from service.scheduler.rules import Rule, RulesConfig
from service.scheduler.summary import Summary
from service.scheduler.templates import TemplateRenderError
from service.scheduler.timing import Window, rule_window
from service.settings import Settings

SOURCE = "scheduler"


@dataclass(frozen=True, slots=True)
class Planned:
    rule: str
    message: NewMessage


def idempotency_key(charge_id: str, rule: str, due_date: date) -> str:
    return f"charge:{charge_id}:{rule}:{due_date.isoformat()}"


class Planner:
    def __init__(
        self,
        config: RulesConfig,
        settings: Settings,
        run_date: date,
        now_ms: int,
        summary: Summary,
    ) -> None:
        zone = ZoneInfo(settings.schedule.time_zone)
        self.run_date = run_date
        self.summary = summary
        self.region = settings.messages.default_region
        self.max_chars = settings.api.max_text_chars
        self.skip = frozenset(config.skip_statuses)
        self.templates = config.templates()
        self.by_offset: dict[int, list[Rule]] = {}
        for rule in config.rules:
            self.by_offset.setdefault(rule.offset_days, []).append(rule)
        self.windows: dict[str, Window | None] = {
            rule.name: rule_window(rule, config.calendar, run_date, zone, now_ms)
            for rule in config.rules
        }

    def matching(self, charge: Charge) -> list[Rule]:
        if charge.status in self.skip:
            self.summary.skipped_status += 1
            return []
        rules = self.by_offset.get((self.run_date - charge.due_date).days, ())
        return [rule for rule in rules if charge.status in rule.statuses]

    def plan(self, charge: Charge) -> list[Planned]:
        planned: list[Planned] = []
        phone: str | None = None
        for rule in self.matching(charge):
            counts = self.summary.per_rule[rule.name]
            counts["eligible"] += 1
            window = self.windows[rule.name]
            if window is None:
                counts["outside_window"] += 1
                continue
            try:
                phone = phone or normalize_phone(charge.phone, self.region)
            except ValueError as exc:
                counts["invalid_phone"] += 1
                self.summary.problem(
                    "invalid_phone", str(exc), charge_id=charge.id, rule=rule.name,
                    phone=charge.phone,
                )  # fmt: skip
                continue
            try:
                text = self.templates[rule.name].render(
                    template_context(charge, self.run_date), self.max_chars
                )
            except TemplateRenderError as exc:
                counts["template_errors"] += 1
                self.summary.problem(
                    "template_error", str(exc), charge_id=charge.id, rule=rule.name
                )
                continue
            counts["planned"] += 1
            planned.append(Planned(rule.name, self._message(charge, rule, phone, text, window)))
        return planned

    def _message(
        self, charge: Charge, rule: Rule, phone: str, text: str, window: Window
    ) -> NewMessage:
        return NewMessage(
            to=phone,
            text=text,
            priority=rule.priority,
            send_at_ms=window.next_send_at_ms(),
            expires_at_ms=window.end_ms,
            idempotency_key=idempotency_key(charge.id, rule.name, charge.due_date),
            metadata={"charge_id": charge.id, "rule": rule.name},
            source=SOURCE,
        )
