"""What every source is: an async stream of record batches, plus the retry loop they share.

A source holds at most one batch (a page, a few thousand rows) at a time, so a run's memory does not
grow with the number of charges. A record is whatever the source reads (a JSON object, a CSV row, a
SQL row as a dict); an InvalidRecord in its place stands for a line that could not be parsed.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from service.scheduler.errors import SourceUnavailable
from service.scheduler.settings import ScheduleSettings

log = logging.getLogger("zapq.scheduler.source")
T = TypeVar("T")


class Retryable(Exception):
    """A failure worth another attempt (transport error, 5xx, 429); str() says what happened."""


class Source(abc.ABC):
    #: Charges in the source, when it says (an HTTP API's total): progress shows a percent.
    total: int | None = None

    def fraction_done(self) -> float | None:
        """How far the read is, 0..1, when the source can tell."""
        return None

    @abc.abstractmethod
    def batches(self) -> AsyncGenerator[list[Any], None]:
        """Record batches; raises SourceUnavailable when the source fails (after retries)."""

    async def aclose(self) -> None:  # noqa: B027 - most sources hold nothing to close
        """Release connections; called once the run is over."""


def safe_url(url: str) -> str:
    """scheme://host:port/path: query strings and userinfo may hold secrets, logs must not."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


async def with_retries(
    schedule: ScheduleSettings, what: str, attempt: Callable[[], Awaitable[T]]
) -> T:
    """Run ``attempt`` until it does not raise Retryable; backoff 1 s, 2 s, 4 s ... by default."""
    problem = ""
    for number in range(1, schedule.source_attempts + 1):
        try:
            return await attempt()
        except Retryable as exc:
            problem = str(exc)
        if number < schedule.source_attempts:
            delay = schedule.source_retry_delay_seconds * 2 ** (number - 1)
            log.warning(
                "source request failed, retrying",
                extra={"source": what, "problem": problem, "attempt": number, "delay_s": delay},
            )
            await asyncio.sleep(delay)
    raise SourceUnavailable(f"{what}: {problem} (after {schedule.source_attempts} attempts)")
