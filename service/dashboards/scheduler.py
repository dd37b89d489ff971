"""zapq / Scheduler: did the daily `zapq schedule` run, did it succeed, what did it enqueue.

The scheduler is a short-lived CronJob that Prometheus never scrapes. It writes its last run into
Redis (zapq:schedule:last-run) and every api and worker process exports that as gauges, so these
panels aggregate with max like the queue gauges.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from service.dashboards.panels import (
    COUNT,
    SECONDS,
    TIMESTAMP,
    PanelBuilder,
    dashboard,
    graph,
    query,
    shared,
    single,
)

LAST_RUN = shared("zapq_schedule_last_run_timestamp_seconds")
LAST_SUCCESS = shared("zapq_schedule_last_success_timestamp_seconds")
LAST_FAILED = shared("zapq_schedule_last_run_failed")
# A daily schedule: more than 26 h since the last success means a run was missed.
_DAY_SECONDS = 86_400
_MISSED_SECONDS = 26 * 3600


def build() -> Dashboard:
    return dashboard(
        "zapq-scheduler",
        "zapq / Scheduler",
        "The daily `zapq schedule` run: when it last ran and succeeded, and its errors.",
        [("Last run", _last_run()), ("History", _history())],
    )


def _last_run() -> list[PanelBuilder]:
    return [
        single(
            "Last successful run",
            "When the last successful `zapq schedule` run ended.",
            TIMESTAMP,
            f"{LAST_SUCCESS} * 1000",
            width=6,
        ),
        single(
            "Since last success",
            f"Time since the last successful run; red past {_MISSED_SECONDS // 3600} h (a daily "
            "run was missed).",
            SECONDS,
            f"time() - {LAST_SUCCESS}",
            width=6,
            thresholds=[(_DAY_SECONDS, "yellow"), (_MISSED_SECONDS, "red")],
        ),
        single(
            "Last run",
            "When the last `zapq schedule` run ended, successful or not.",
            TIMESTAMP,
            f"{LAST_RUN} * 1000",
            width=6,
        ),
        single(
            "Last run result",
            "Whether the last run failed (its log has the reason).",
            COUNT,
            LAST_FAILED,
            width=6,
            thresholds=[(1, "red")],
            mappings={"0": ("ok", "green"), "1": ("failed", "red")},
        ),
    ]


def _history() -> list[PanelBuilder]:
    return [
        graph(
            "Hours since last success",
            "Age of the last successful run over time: a sawtooth that resets every day.",
            SECONDS,
            [query(f"time() - {LAST_SUCCESS}", "since last success")],
        ),
        graph(
            "Run errors",
            "1 while the last run is a failed one.",
            COUNT,
            [query(LAST_FAILED, "last run failed")],
        ),
    ]
