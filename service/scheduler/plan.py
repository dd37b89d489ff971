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

from service.content import MAX_URL_CHARS, media_problems
from service.phones import normalize_phone
from service.queue.models import Kind, Media, MediaType, NewMessage
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
    #: The charge's template fields: a dry run renders its sample from them, masked.
    context: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one rule makes of one charge, before anything is counted."""

    rule: Rule
    #: A per-rule outcome of summary.RULE_OUTCOMES: planned, outside_window, invalid_phone or
    #: template_errors.
    kind: str
    #: planned: the message text; a problem: what is wrong.
    detail: str = ""
    #: planned only: the normalised number, the rule's window and its document.
    phone: str = ""
    window: Window | None = None
    media: Media | None = None


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
        self.documents = config.documents()
        self.max_media_bytes = settings.api.max_media_bytes
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
        """The charge's messages. Whatever one charge makes fail (an amount or a date that cannot
        be formatted, a bug) raises before anything is counted for it: the run counts it as an
        invalid record, and the per-rule counts stay consistent."""
        rules = self.matching(charge)
        if not rules:
            return []
        context = template_context(charge, self.run_date)
        phone = self._phone(charge)
        outcomes = [self._outcome(rule, context, phone) for rule in rules]
        for outcome in outcomes:
            self._count(charge, outcome)
        return [
            Planned(outcome.rule.name, self._message(charge, outcome), context)
            for outcome in outcomes
            if outcome.kind == "planned"
        ]

    def _phone(self, charge: Charge) -> str | ValueError:
        try:
            return normalize_phone(charge.phone, self.region)
        except ValueError as exc:
            return exc

    def _outcome(self, rule: Rule, context: dict[str, str], phone: str | ValueError) -> _Outcome:
        window = self.windows[rule.name]
        if window is None:
            return _Outcome(rule, "outside_window")
        if isinstance(phone, ValueError):
            return _Outcome(rule, "invalid_phone", str(phone))
        try:
            text = self.templates[rule.name].render(context, self.max_chars)
            media = self._document(rule, context, text)
        except TemplateRenderError as exc:
            return _Outcome(rule, "template_errors", str(exc))
        return _Outcome(rule, "planned", text, phone, window, media)

    def _document(self, rule: Rule, context: dict[str, str], caption: str) -> Media | None:
        """The rule's document for this charge; a URL that does not render to https is a
        template error of the charge (counted, never sent)."""
        if rule.document is None:
            return None
        url, name = (t.render(context, MAX_URL_CHARS) for t in self.documents[rule.name])
        media = Media(MediaType.DOCUMENT, url, rule.document.mimetype, name)
        problems = media_problems(media, caption, self.max_media_bytes)
        if problems or not url.startswith("https://"):
            raise TemplateRenderError("document.url: does not render to an https URL")
        return media

    def _count(self, charge: Charge, outcome: _Outcome) -> None:
        """Count one rule's outcome, and log its problem."""
        counts = self.summary.per_rule[outcome.rule.name]
        counts["eligible"] += 1
        counts[outcome.kind] += 1
        if outcome.kind == "invalid_phone":
            self.summary.problem(
                "invalid_phone", outcome.detail, charge_id=charge.id, rule=outcome.rule.name,
                phone=charge.phone,
            )  # fmt: skip
        elif outcome.kind == "template_errors":
            self.summary.problem(
                "template_error", outcome.detail, charge_id=charge.id, rule=outcome.rule.name
            )

    def _message(self, charge: Charge, outcome: _Outcome) -> NewMessage:
        rule, window = outcome.rule, outcome.window
        assert window is not None  # a planned outcome has its window
        return NewMessage(
            to=outcome.phone,
            text=outcome.detail,
            priority=rule.priority,
            send_at_ms=window.next_send_at_ms(),
            expires_at_ms=window.end_ms,
            idempotency_key=idempotency_key(charge.id, rule.name, charge.due_date),
            metadata={"charge_id": charge.id, "rule": rule.name},
            source=SOURCE,
            kind=Kind.MEDIA if outcome.media else Kind.TEXT,
            media=outcome.media,
        )
