"""What one run counted, and the one JSON line it ends with.

Per-charge problems are counted here and the first few of each kind are logged with the charge id
(ids and phones masked, never the text): a bad mapping can make every one of 100,000 charges fail,
and a log line each would drown the summary. The first few invalid records are also listed in the
summary itself (record number, masked id, reason), so the last-run record shows them.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from service.logging import mask_phone
from service.scheduler.masking import mask_id

log = logging.getLogger("zapq.scheduler")

#: Per rule: eligible (offset and status matched) = planned + outside_window + invalid_phone +
#: template_errors; in a completed run planned = enqueued + deduped + suppressed (the recipient
#: opted out: nothing enqueued; dry run: nothing enqueued).
RULE_OUTCOMES = (
    "eligible",
    "planned",
    "enqueued",
    "deduped",
    "suppressed",
    "outside_window",
    "invalid_phone",
    "template_errors",
)
# Problems of one kind logged individually per run; the rest are only counted.
_LOGGED_PER_KIND = 20
# Invalid records listed in the summary line (and so in Redis's last-run hash): enough to find
# the pattern, small enough for one line.
SAMPLED_INVALID_RECORDS = 10


@dataclass
class Summary:
    run_date: date
    dry_run: bool
    source: str
    rule_names: list[str]
    found: int = 0
    invalid_records: int = 0
    skipped_status: int = 0
    #: The first SAMPLED_INVALID_RECORDS invalid records: record number, masked id, reason.
    invalid_samples: list[dict[str, Any]] = field(default_factory=list)
    per_rule: dict[str, Counter[str]] = field(default_factory=dict)
    error: str | None = None
    #: The ScheduleError code of a failed run (invalid_config, source_unavailable, ...).
    error_code: str | None = None
    started: float = field(default_factory=time.monotonic)
    _logged: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.set_rules(self.rule_names)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def fail(self, code: str, error: str) -> None:
        self.error_code, self.error = code, error

    def set_rules(self, names: list[str]) -> None:
        self.rule_names = names
        self.per_rule = {name: Counter() for name in names}

    def total(self, outcome: str) -> int:
        return sum(counts[outcome] for counts in self.per_rule.values())

    def invalid(self, record: int, charge_id: str, reason: str) -> None:
        """Count record number ``record`` (1-based, in source order) as invalid."""
        self.invalid_records += 1
        where: dict[str, Any] = {"record": record}
        if charge_id:
            where["charge_id"] = charge_id
        if len(self.invalid_samples) < SAMPLED_INVALID_RECORDS:
            masked = {**where, "charge_id": mask_id(charge_id)} if charge_id else where
            self.invalid_samples.append({**masked, "reason": reason})
        self.problem("invalid_record", reason, **where)

    def problem(self, kind: str, reason: str, **fields: Any) -> None:
        """Log one per-charge problem, unless this kind was logged often enough already."""
        self._logged[kind] += 1
        if self._logged[kind] > _LOGGED_PER_KIND:
            return
        if "phone" in fields:
            fields["phone"] = mask_phone(fields["phone"])
        if "charge_id" in fields:
            fields["charge_id"] = mask_id(fields["charge_id"])
        last = self._logged[kind] == _LOGGED_PER_KIND
        log.warning(
            "charge skipped: %s%s",
            kind,
            " (further ones only counted)" if last else "",
            extra={"kind": kind, "reason": reason, **fields},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "event": "schedule_summary",
            "ok": not self.failed,
            "error": self.error,
            "error_code": self.error_code,
            "run_date": self.run_date.isoformat(),
            "dry_run": self.dry_run,
            "source": self.source,
            "found": self.found,
            "invalid_records": self.invalid_records,
            "invalid_record_samples": self.invalid_samples,
            "skipped_paid_or_cancelled": self.skipped_status,
            "eligible": {name: counts["eligible"] for name, counts in self.per_rule.items()},
            **{outcome: self.total(outcome) for outcome in RULE_OUTCOMES[1:]},
            "per_rule": {
                name: {outcome: counts[outcome] for outcome in RULE_OUTCOMES}
                for name, counts in self.per_rule.items()
            },
            "duration_seconds": round(time.monotonic() - self.started, 3),
        }
