"""Progress while a run reads: a live bar on a terminal, a log line every N seconds in a pod.

The percent needs a total: an HTTP source that reports one, or a file (bytes read). Otherwise
only the counts are shown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

from service.scheduler.summary import Summary

log = logging.getLogger("zapq.scheduler")

# A terminal redraws at most this often (seconds): smooth, and cheap at thousands of charges/s.
_REDRAW_SECONDS = 0.1
_BAR_WIDTH = 30


class Progress:
    def __init__(
        self,
        summary: Summary,
        fraction: Callable[[], float | None],
        interval_seconds: float,
        stream: TextIO,
    ) -> None:
        self.summary = summary
        self.fraction = fraction
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = _REDRAW_SECONDS if self.tty else interval_seconds
        self._last = time.monotonic()
        self._drawn = False

    def update(self) -> None:
        """Called after every batch; draws or logs only when the interval has passed."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
            self._drawn = True
            return
        fraction = self.fraction()
        log.info(
            "schedule progress",
            extra={
                "read": self.summary.found,
                "percent": round(fraction * 100, 1) if fraction is not None else None,
                "enqueued": self.summary.total("enqueued"),
                "deduped": self.summary.total("deduped"),
            },
        )

    def line(self) -> str:
        summary, fraction = self.summary, self.fraction()
        counts = (
            f"read {summary.found:,}  planned {summary.total('planned'):,}  "
            f"enqueued {summary.total('enqueued'):,}  deduped {summary.total('deduped'):,}"
        )
        if fraction is None:
            return counts
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        return f"[{bar}] {fraction * 100:5.1f}%  {counts}"

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()
