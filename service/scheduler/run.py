"""One `zapq schedule` run: read charges, plan their messages, enqueue them, report.

A run fails (exit 1, last_failed=1) when the source cannot be reached or read to the end, when it
yields no charges (see ScheduleSettings.allow_empty_source) or none of them can be read (a broken
field mapping), or when Redis is down; a configuration error exits 2 before anything is read.
Everything else (a bad phone, a template that needs a field a charge lacks, a broken record) is
counted and the run goes on: any error while turning one record into messages (a date past year
9999 in the time zone, an amount too large to format, a bug) is that record's alone, counted as an
invalid record with its number and masked id. Whatever happened, even a crash of the run itself,
the run ends with one JSON summary line and, unless it is a dry run, the last-run hash in Redis.
A failed run may simply be repeated: everything it enqueued before failing is deduplicated by the
next one.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

import orjson
from redis.asyncio import Redis

from service.queue.keys import Keys
from service.queue.models import now_ms
from service.queue.store import MessageQueue
from service.redis import REDIS_ERRORS, create_redis
from service.scheduler import metrics
from service.scheduler.charge import FieldMap, InvalidRecord, record_id
from service.scheduler.errors import ConfigError, ScheduleError
from service.scheduler.plan import Planned, Planner
from service.scheduler.progress import Progress
from service.scheduler.rules import RulesConfig, load_rules
from service.scheduler.settings import ScheduleSettings, SourceKind
from service.scheduler.sinks import DryRunSink, QueueFullTooLong, QueueSink, Sink
from service.scheduler.sources import open_source
from service.scheduler.sources.base import Source
from service.scheduler.sources.options import DueRange
from service.scheduler.status import write_last_run
from service.scheduler.summary import Summary, log
from service.settings import Settings


@dataclass(frozen=True)
class RunOptions:
    """The command line's overrides of the settings."""

    run_date: date | None = None
    dry_run: bool = False
    rules_file: str | None = None
    source: SourceKind | None = None
    source_url: str | None = None


@dataclass
class Outputs:
    #: The summary line (and a dry run's report) go here.
    out: TextIO = field(default_factory=lambda: sys.stdout)
    #: The progress bar, when this is a terminal.
    progress: TextIO = field(default_factory=lambda: sys.stderr)


def due_range(config: RulesConfig, run_date: date) -> DueRange:
    offsets = [rule.offset_days for rule in config.rules]
    return DueRange(
        run_date=run_date,
        from_date=run_date - timedelta(days=max(offsets)),
        to_date=run_date - timedelta(days=min(offsets)),
    )


def _schedule_settings(settings: Settings, options: RunOptions) -> ScheduleSettings:
    overrides = {
        "source": options.source,
        "source_url": options.source_url,
        "rules_file": options.rules_file,
    }
    schedule = settings.schedule.model_copy(
        update={key: value for key, value in overrides.items() if value is not None}
    )
    return schedule


async def run_schedule(
    settings: Settings,
    options: RunOptions,
    *,
    clock: Callable[[], int] = now_ms,
    outputs: Outputs | None = None,
) -> Summary:
    """Run once; ``clock`` (unix ms) is the run's notion of now (tests pin it)."""
    outputs = outputs or Outputs()
    schedule = _schedule_settings(settings, options)
    zone = ZoneInfo(schedule.time_zone)
    started_ms = clock()
    today = datetime.fromtimestamp(started_ms / 1000, zone).date()
    run_date = options.run_date or today
    if options.dry_run and run_date != today:
        # A dry run of another day shows that whole day's plan, as if run when the day starts.
        started_ms = int(datetime.combine(run_date, time(), zone).timestamp() * 1000)
    summary = Summary(run_date, options.dry_run, schedule.source, [])
    try:
        config = load_rules(schedule.rules_file)
        summary.set_rules([rule.name for rule in config.rules])
        source = open_source(schedule.source, schedule, config.source, due_range(config, run_date))
    except ConfigError as exc:
        summary.fail(exc.code, str(exc.detail))
    else:
        try:
            planner = Planner(config, settings, run_date, started_ms, summary)
            await _execute(settings, schedule, options, config, source, planner, clock, outputs)
        except Exception as exc:  # a bug: still the summary line and a failed last-run record
            log.exception("schedule run crashed")
            summary.fail("internal_error", f"the run crashed: {type(exc).__name__}")
    await _finish(settings, schedule, summary, outputs.out)
    return summary


async def _execute(
    settings: Settings,
    schedule: ScheduleSettings,
    options: RunOptions,
    config: RulesConfig,
    source: Source,
    planner: Planner,
    clock: Callable[[], int],
    outputs: Outputs,
) -> None:
    summary = planner.summary
    progress = Progress(
        summary, source.fraction_done, schedule.progress_interval_seconds, outputs.progress
    )
    sink: Sink
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(source.aclose)
        if options.dry_run:
            sink = dry = DryRunSink(schedule.dry_run_sample_size, planner.templates)
        else:
            redis: Redis = create_redis(settings, "scheduler")
            stack.push_async_callback(redis.aclose)
            margin_ms = schedule.dedupe_margin_seconds * 1000
            sink = QueueSink(
                MessageQueue(redis, settings),
                summary,
                schedule.enqueue_chunk_size,
                margin_ms,
                clock,
                wait_seconds=schedule.queue_full_wait_seconds,
            )
        try:
            await _consume(source, config.source.fields, planner, sink, progress, schedule)
        except ScheduleError as exc:
            summary.fail(exc.code, str(exc.detail))
            # Keep what was already planned: the retried run then has less to do.
            with contextlib.suppress(*REDIS_ERRORS, QueueFullTooLong):
                await sink.flush()
        except REDIS_ERRORS as exc:
            summary.fail("redis_unavailable", f"redis: {type(exc).__name__}: {exc}")
        finally:
            progress.finish()
    if options.dry_run:
        dry.report(summary, planner.windows, ZoneInfo(schedule.time_zone), outputs.out)


def plan_record(
    record: object, fields: FieldMap, planner: Planner, zone: ZoneInfo
) -> list[Planned]:
    """One record's messages. Any error in reading or planning it is counted as an invalid
    record, by type only (an exception's text may quote the record), and the run goes on."""
    try:
        if isinstance(record, InvalidRecord):  # a line the source itself could not parse
            raise record
        return planner.plan(fields.to_charge(record, zone))
    except InvalidRecord as exc:
        reason = str(exc)
    except Exception as exc:  # one broken record must not end the run (and every retry of it)
        reason = f"cannot be planned: {type(exc).__name__}"
    planner.summary.invalid(planner.summary.found, record_id(record, fields), reason)
    return []


async def _consume(
    source: Source,
    fields: FieldMap,
    planner: Planner,
    sink: Sink,
    progress: Progress,
    schedule: ScheduleSettings,
) -> None:
    summary, zone = planner.summary, ZoneInfo(schedule.time_zone)
    async with contextlib.aclosing(source.batches()) as batches:
        async for batch in batches:
            for record in batch:
                summary.found += 1
                await sink.add(plan_record(record, fields, planner, zone))
            progress.update()
    await sink.flush()
    if summary.found == 0 and not schedule.allow_empty_source:
        summary.fail("empty_source", "the source returned no charges")
    elif summary.found and summary.found == summary.invalid_records:
        summary.fail("unreadable_source", "no charge could be read: check source.fields")


async def _finish(
    settings: Settings, schedule: ScheduleSettings, summary: Summary, out: TextIO
) -> None:
    if summary.failed:
        log.error(
            "schedule run failed", extra={"error_code": summary.error_code, "error": summary.error}
        )
    result = summary.as_dict()
    finished_at = datetime.now(UTC).timestamp()
    out.write(orjson.dumps(result).decode() + "\n")
    out.flush()
    if summary.dry_run:
        return
    redis: Redis = create_redis(settings, "scheduler")
    try:
        keys = Keys(settings.redis_key_prefix)
        await write_last_run(
            redis, keys, finished_at=finished_at, failed=summary.failed, summary=result
        )
    except REDIS_ERRORS as exc:
        log.error("could not record the run in redis", extra={"error": type(exc).__name__})
    finally:
        await redis.aclose()
    metrics.record(result, finished_at)
    if schedule.pushgateway_url:
        await metrics.push(schedule.pushgateway_url)
