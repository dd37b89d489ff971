"""When each message goes out: a rule's window on the run date, and send times spread across it.

A rule's window on a day is its own span intersected with that day's allowed hours; before it
opens nothing is sent, and every message expires when it closes (a due-today reminder is never
delivered tomorrow). A run that starts inside a window spreads over what is left of it.

Spreading uses the van der Corput sequence (0, 1/2, 1/4, 3/4, 1/8, ...): the first n positions of
it are evenly spread over [0, 1) for every n, so send times are even without knowing in advance
how many charges a streamed source holds, and memory stays constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from service.scheduler.rules import Calendar, Rule


def van_der_corput(index: int) -> float:
    """The index-th point of the base-2 van der Corput sequence, in [0, 1)."""
    position, scale = 0.0, 0.5
    while index:
        index, bit = divmod(index, 2)
        position += bit * scale
        scale /= 2
    return position


def _epoch_ms(day: date, at: time, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tzinfo=zone).timestamp() * 1000)


@dataclass(slots=True)
class Window:
    """One rule's sending window on the run date, in unix ms, already clipped to the run's start."""

    start_ms: int
    end_ms: int
    spread: bool
    #: Messages placed so far: the next one's index in the van der Corput sequence.
    placed: int = 0

    def next_send_at_ms(self) -> int:
        if not self.spread:
            return self.start_ms
        position = van_der_corput(self.placed)
        self.placed += 1
        return self.start_ms + int(position * (self.end_ms - self.start_ms))


def rule_window(
    rule: Rule, calendar: Calendar, day: date, zone: ZoneInfo, now_ms: int
) -> Window | None:
    """The rule's window on ``day`` from ``now_ms`` on; None when it is closed or already over."""
    hours = calendar.hours(day)
    if hours is None:
        return None
    start, end = hours
    if rule.window is not None:
        start, end = max(start, rule.window.start), min(end, rule.window.end)
    if start >= end:
        return None
    start_ms, end_ms = _epoch_ms(day, start, zone), _epoch_ms(day, end, zone)
    if end_ms <= now_ms:
        return None
    return Window(max(start_ms, now_ms), end_ms, rule.spread)
