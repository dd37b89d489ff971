"""Rules file, rule offsets, allowed hours and send windows, spreading: pure logic."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from service.scheduler.errors import RulesError
from service.scheduler.rules import DEFAULT_RULES, Calendar, Rule, RulesConfig, load_rules
from service.scheduler.timing import rule_window, van_der_corput
from tests.scheduler.conftest import MONDAY, SAO_PAULO, at

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_classic_set() -> None:
    config = load_rules("")
    assert [(r.name, r.offset_days) for r in config.rules] == [
        ("due_in_3_days", -3),
        ("due_today", 0),
        ("overdue_1_day", 1),
        ("overdue_3_days", 3),
        ("overdue_7_days", 7),
    ]
    assert config.calendar.hours(MONDAY) == (time(8), time(20))
    assert config.calendar.hours(MONDAY + timedelta(days=6)) is None  # Sunday


def test_example_rules_file_is_valid_and_reproduces_the_defaults() -> None:
    example = load_rules(ROOT / "examples" / "rules.yaml")
    assert example.rules == RulesConfig().rules
    days = [MONDAY + timedelta(days=n) for n in range(7)]
    assert [example.calendar.hours(day) for day in days] == [Calendar().hours(day) for day in days]
    assert example.skip_statuses == RulesConfig().skip_statuses


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("rules: [{name: a, offset_days: 0, template: 'x', colour: red}]", "colour"),
        ("rules: [{name: a, offset_days: 0, template: 'Olá {nome}'}]", "nome"),
        ("rules: [{name: a, offset_days: 0, template: 'x', window: '12:00-09:00'}]", "ends"),
        ("rules: [{name: a, offset_days: 0, template: 'x', window: 'morning'}]", "span"),
        ("rules: [{name: A B, offset_days: 0, template: 'x'}]", "name"),
        (
            "rules: [{name: a, offset_days: 0, template: x}, {name: a, offset_days: 1, "
            "template: y}]",
            "unique",
        ),
        ("rules: []", "no rules"),
        ("calendar: {allowed_hours: {mon: '8h'}}", "span"),
        ("rules: [unclosed", "rules.yaml"),
    ],
)
def test_invalid_rules_files_name_the_problem(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(content)
    with pytest.raises(RulesError, match=problem):
        load_rules(path)


def test_missing_rules_file() -> None:
    with pytest.raises(RulesError, match="No such file"):
        load_rules("/nonexistent/rules.yaml")


def test_extras_become_template_fields(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": [{"name": "a", "offset_days": 0, "template": "Plano {plan}"}],
                "source": {"fields": {"extras": {"plan": "contract.plan"}}},
            }
        )
    )
    assert load_rules(path).templates()["a"].fields == ("plan",)


def _rule(**fields: object) -> Rule:
    return Rule.model_validate({"name": "r", "offset_days": 0, "template": "x", **fields})


def test_window_is_the_rule_span_inside_allowed_hours() -> None:
    rule = _rule(window="07:00-12:00")
    window = rule_window(rule, Calendar(), MONDAY, SAO_PAULO, at(MONDAY, 6))
    assert window is not None
    # Allowed hours start at 08:00: a 07:00 window start moves to 08:00; the end stays 12:00.
    assert (window.start_ms, window.end_ms) == (at(MONDAY, 8), at(MONDAY, 12))


def test_run_inside_the_window_spreads_over_what_is_left() -> None:
    window = rule_window(_rule(window="09:00-12:00"), Calendar(), MONDAY, SAO_PAULO, at(MONDAY, 10))
    assert window is not None
    assert (window.start_ms, window.end_ms) == (at(MONDAY, 10), at(MONDAY, 12))


@pytest.mark.parametrize(
    ("day", "now_hour", "window", "calendar"),
    [
        (MONDAY, 12, "09:00-12:00", {}),  # over
        (MONDAY, 6, "20:00-22:00", {}),  # entirely in quiet hours
        (MONDAY + timedelta(days=6), 6, None, {}),  # Sunday
        (MONDAY, 6, None, {"holidays": [MONDAY]}),
        (MONDAY, 6, None, {"allowed_hours": {"tue": "08:00-20:00"}}),  # Monday not listed
    ],
)
def test_closed_or_over_windows(
    day: date, now_hour: int, window: str | None, calendar: dict[str, object]
) -> None:
    rule = _rule(window=window)
    cal = Calendar.model_validate(calendar)
    assert rule_window(rule, cal, day, SAO_PAULO, at(day, now_hour)) is None


def test_window_is_wall_clock_time_in_the_zone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    sp = rule_window(_rule(window="09:00-12:00"), Calendar(), MONDAY, SAO_PAULO, 0)
    tk = rule_window(_rule(window="09:00-12:00"), Calendar(), MONDAY, tokyo, 0)
    assert sp is not None and tk is not None
    # 09:00 in São Paulo (UTC-3) is 12:00 UTC; 09:00 in Tokyo (UTC+9) is 00:00 UTC.
    assert (sp.start_ms - tk.start_ms) == 12 * 3600 * 1000


def test_spread_is_even_for_any_count() -> None:
    for count in (1, 2, 7, 100, 1000):
        points = sorted(van_der_corput(i) for i in range(count))
        assert len(set(points)) == count
        gaps = [b - a for a, b in zip([0.0, *points], [*points, 1.0], strict=True)]
        # Every gap is within a factor of 2 of the ideal 1 / count.
        assert max(gaps) <= 2 / count, count


def test_not_spread_sends_at_the_window_start() -> None:
    window = rule_window(
        _rule(window="09:00-12:00", spread=False), Calendar(), MONDAY, SAO_PAULO, 0
    )
    assert window is not None
    assert {window.next_send_at_ms() for _ in range(5)} == {at(MONDAY, 9)}


def test_default_templates_are_portuguese() -> None:
    texts = {rule["name"]: rule["template"] for rule in DEFAULT_RULES}
    assert "vence hoje" in texts["due_today"]
    assert texts["overdue_1_day"].endswith("há {days_overdue} dia. Para regularizar: {payment}")
    assert "há {days_overdue} dias." in texts["overdue_7_days"]
