"""Where planned messages go: the queue (through MessageQueue.enqueue, like the API) or, in a dry
run, a sample printed for a person to read: masked as the logs are (phones, charge ids, names,
links; see masking.py), since it goes to the same pod log.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TextIO
from zoneinfo import ZoneInfo

from service import metrics
from service.logging import mask_phone
from service.queue.backpressure import Backpressure
from service.queue.models import EnqueueResult
from service.queue.store import MessageQueue
from service.redis import REDIS_FULL_ERRORS
from service.scheduler.errors import ScheduleError
from service.scheduler.masking import mask_id, masked_context
from service.scheduler.plan import SOURCE, Planned
from service.scheduler.summary import Summary
from service.scheduler.templates import Template, TemplateRenderError
from service.scheduler.timing import Window

#: The idempotency namespace (MessageQueue key_id) of every scheduler message.
KEY_ID = "scheduler"
#: How often a run waiting on backpressure looks again (seconds): the API's limits are read every
#: half second; a poll is two cheap commands.
BACKPRESSURE_POLL_SECONDS = 1.0

log = logging.getLogger("zapq.scheduler")


class QueueFullTooLong(ScheduleError):
    """The queue refused new messages (backpressure, a full Redis) for longer than the run waits."""

    code = "queue_full"


class Sink(Protocol):
    async def add(self, planned: list[Planned]) -> None: ...

    async def flush(self) -> None: ...


class QueueSink:
    """Enqueues in chunks: one atomic round trip per chunk, each message new or a duplicate.

    "duplicate" and "conflict" both mean that the key (charge, rule, due date) was enqueued before,
    by an earlier or a concurrent run (a conflict: with other text or send time, e.g. a later
    rerun spreads over what is left of the window): either way nothing is enqueued again.
    "opted_out": the recipient is on the suppression list; skipped and counted as suppressed.
    """

    def __init__(
        self,
        queue: MessageQueue,
        summary: Summary,
        chunk_size: int,
        margin_ms: int,
        clock: Callable[[], int],
        *,
        wait_seconds: float = 0.0,
        poll_seconds: float = BACKPRESSURE_POLL_SECONDS,
    ) -> None:
        self.queue = queue
        self.summary = summary
        self.chunk_size = chunk_size
        self.margin_ms = margin_ms
        self.clock = clock
        self.pending: list[Planned] = []
        self.backpressure = Backpressure(queue)
        #: Longest wait for the queue to take messages again (schedule.queue_full_wait_seconds).
        self.wait_ms = int(wait_seconds * 1000)
        self.poll_seconds = poll_seconds

    async def add(self, planned: list[Planned]) -> None:
        self.pending += planned
        while len(self.pending) >= self.chunk_size:
            chunk, self.pending = self.pending[: self.chunk_size], self.pending[self.chunk_size :]
            await self._enqueue(chunk)

    async def flush(self) -> None:
        chunk, self.pending = self.pending, []
        if chunk:
            await self._enqueue(chunk)

    async def _enqueue(self, chunk: list[Planned]) -> None:
        now = self.clock()
        # Keys outlive the last moment any run could enqueue these messages again (their expiry).
        last_expiry = max(item.message.expires_at_ms or now for item in chunk)
        ttl_ms = max(last_expiry - now, 0) + self.margin_ms
        first_expiry = min(item.message.expires_at_ms or now for item in chunk)
        results = await self._when_admitted(
            lambda: self.queue.enqueue(
                [item.message for item in chunk],
                KEY_ID,
                at_ms=self.clock(),
                idempotency_ttl_ms=ttl_ms or 1000,
            ),
            len(chunk),
            until_ms=min(now + self.wait_ms, first_expiry),
        )
        for item, result in zip(chunk, results, strict=True):
            counts = self.summary.per_rule[item.rule]
            if result.outcome == "new":
                counts["enqueued"] += 1
                metrics.ACCEPTED.labels(item.message.priority, SOURCE, item.message.kind).inc()
            elif result.outcome == "opted_out":
                counts["suppressed"] += 1
                metrics.OPTED_OUT_MESSAGES.labels(SOURCE).inc()
            else:
                counts["deduped"] += 1
                metrics.DEDUPLICATED.labels(SOURCE).inc()

    async def _when_admitted(
        self, enqueue: Callable[[], Awaitable[list[EnqueueResult]]], count: int, until_ms: int
    ) -> list[EnqueueResult]:
        """Enqueue once the API's backpressure limits would admit ``count`` messages and Redis takes
        them, waiting (poll_seconds apart) until ``until_ms`` at most: a run waits out a backlog
        instead of failing, and gives up (queue_full) before its messages' windows end."""
        waiting = False
        while True:
            reason = await self.backpressure.refusal(count)
            if reason is None:
                try:
                    results = await enqueue()
                except REDIS_FULL_ERRORS:  # refused whole: the same chunk may go again
                    reason = "redis_full"
                else:
                    if waiting:
                        log.info("the queue takes messages again: enqueueing")
                    return results
            if self.clock() >= until_ms:
                self.wait_ms = 0  # the flush after the failure tries once, without waiting
                raise QueueFullTooLong(f"the queue refused new messages ({reason}) too long")
            if not waiting:
                log.warning("the queue is full: waiting", extra={"reason": reason})
                waiting = True
            await asyncio.sleep(min(self.poll_seconds, (until_ms - self.clock()) / 1000))


class DryRunSink:
    """Keeps the first ``sample_size`` planned messages; enqueues nothing."""

    def __init__(self, sample_size: int, templates: dict[str, Template]) -> None:
        self.sample_size = sample_size
        self.templates = templates
        self.sample: list[Planned] = []

    async def add(self, planned: list[Planned]) -> None:
        room = self.sample_size - len(self.sample)
        if room > 0:
            self.sample += planned[:room]

    async def flush(self) -> None:
        return None

    def report(
        self, summary: Summary, windows: dict[str, Window | None], zone: ZoneInfo, out: TextIO
    ) -> None:
        def clock(ms: int) -> str:
            return datetime.fromtimestamp(ms / 1000, zone).strftime("%H:%M")

        out.write(f"dry run for {summary.run_date} ({zone.key}); nothing is enqueued\n\n")
        out.write(
            f"{'rule':<24}{'eligible':>9}{'planned':>9}{'outside':>9}{'bad phone':>10}"
            f"{'template':>10}  window\n"
        )
        for name, counts in summary.per_rule.items():
            window = windows[name]
            span = f"{clock(window.start_ms)}-{clock(window.end_ms)}" if window else "-"
            out.write(
                f"{name:<24}{counts['eligible']:>9,}{counts['planned']:>9,}"
                f"{counts['outside_window']:>9,}{counts['invalid_phone']:>10,}"
                f"{counts['template_errors']:>10,}  {span}\n"
            )
        out.write("(window -: closed that day, or already over)\n")
        out.write(f"\nsample ({len(self.sample)} of {summary.total('planned'):,}, masked):\n")
        for item in self.sample:
            message = item.message
            send_at = clock(message.send_at_ms) if message.send_at_ms else "now"
            charge = mask_id(str((message.metadata or {}).get("charge_id", "")))
            out.write(
                f"- [{item.rule}] charge {charge} to {mask_phone(message.to)} at {send_at}"
                f" (expires {clock(message.expires_at_ms or 0)}), {len(message.text)} characters\n"
                f"  {self.preview(item)}\n"
            )
        out.write("\n")

    def preview(self, item: Planned) -> str:
        """The text as it reads, with the charge's personal fields masked."""
        try:
            # No length limit: a mask may differ in length from what it hides.
            return self.templates[item.rule].render(masked_context(item.context), sys.maxsize)
        except TemplateRenderError:
            return "(no preview)"
