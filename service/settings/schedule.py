"""``ZAPQ_SCHEDULE__*``: the daily `zapq schedule` run (docs/scheduler.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from service.settings.types import known_zone

SourceKind = Literal["http", "file", "sql"]


class ScheduleSettings(BaseModel):
    # Which source module reads the charges: the billing system's JSON API, a CSV / JSON Lines
    # file, or a read-only SQL query.
    source: SourceKind = "http"
    # http: the charges endpoint (first page). file: a local path or an http(s) URL.
    source_url: str = ""
    # Sent as "Authorization: Bearer <token>" (header and scheme configurable in the rules file).
    source_token: SecretStr = SecretStr("")
    # sql: a SQLAlchemy URL, e.g. postgresql+psycopg://reader:pw@db/billing (read-only role).
    database_url: SecretStr = SecretStr("")
    # The rules file (YAML, mounted from a ConfigMap). Empty: the built-in classic rules.
    rules_file: str = ""
    # Run dates, allowed hours and send windows are in this zone (IANA name).
    time_zone: str = "America/Sao_Paulo"
    # Messages per enqueue call: one atomic Lua round trip each; 500 keeps every call a few ms of
    # Redis time so that API requests are never stuck behind the scheduler.
    enqueue_chunk_size: int = Field(500, ge=1, le=5000)
    # An idempotency key lives until its message expires (the end of its send window) plus this:
    # no run can enqueue a message after its window ends, so a key that outlives the window by a
    # day survives any retried Job, overlapping run or clock skew between pods.
    dedupe_margin_seconds: int = Field(86_400, ge=0)
    # How long a run waits for the queue's backpressure to ease (api.max_ready_messages,
    # api.max_redis_memory_ratio, a full Redis) before it fails with queue_full: half the Job's
    # activeDeadlineSeconds (3,600), so that a run that gives up still writes its summary. A wait
    # also ends when a message of the waiting chunk would expire.
    queue_full_wait_seconds: float = Field(1800.0, ge=0)
    # Per request to the source; a billing API page of 1,000 charges answers in well under 5 s.
    source_timeout_seconds: float = Field(30.0, gt=0)
    # Attempts per source request on transport errors and 5xx / 429 before the run fails.
    source_attempts: int = Field(3, ge=1, le=10)
    # Delay before the 2nd attempt, doubled for each further one (1 s, 2 s, ...).
    source_retry_delay_seconds: float = Field(1.0, ge=0)
    # Progress log lines in a pod (no terminal) come this often; a terminal gets a live bar.
    progress_interval_seconds: float = Field(10.0, gt=0)
    # Rendered messages `--dry-run` prints (phones masked).
    dry_run_sample_size: int = Field(5, ge=0, le=100)
    # A billing system always has open charges, so reading none means a broken source or filter
    # and fails the run; set true where an empty day is normal.
    allow_empty_source: bool = False
    # Pushgateway base URL for the run's zapq_schedule_* counters (empty: not pushed; the run's
    # last-run hash in Redis already drives the missed-run alert).
    pushgateway_url: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)
