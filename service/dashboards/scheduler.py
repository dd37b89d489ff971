"""zapq / Scheduler: did the daily `zapq schedule` run, did it succeed, what did it enqueue.

The scheduler is a short-lived CronJob that Prometheus never scrapes. It writes its last run into
Redis (zapq:schedule:last-run) and every api and worker process exports that as gauges, so those
panels aggregate with max like the queue gauges. Its per-rule figures reach Prometheus only
through a Pushgateway (ZAPQ_SCHEDULE__PUSHGATEWAY_URL): pushed as job "zapq-schedule", one group
that each run replaces, they carry no namespace or pod of zapq's, so PUSHED selects them by job.
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
PUSHED = 'job="zapq-schedule"'
_PUSHED_NOTE = (
    " Pushed by `zapq schedule` to the Pushgateway set in ZAPQ_SCHEDULE__PUSHGATEWAY_URL (no data "
    "without one); selected by its push job, not by namespace and release."
)
# A daily schedule: more than 26 h since the last success means a run was missed.
_DAY_SECONDS = 86_400
_MISSED_SECONDS = 26 * 3600


def build() -> Dashboard:
    return dashboard(
        "zapq-scheduler",
        "zapq / Scheduler",
        "The daily `zapq schedule` run: when it last ran and succeeded, what each rule enqueued, "
        "and its errors.",
        [("Last run", _last_run()), ("Per rule (last run)", _per_rule()), ("History", _history())],
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


def _per_rule() -> list[PanelBuilder]:
    problems = 'outcome=~"outside_window|invalid_phone|template_errors"'
    return [
        graph(
            "Messages enqueued per rule",
            "Messages the last run enqueued, per rule (deduplicated ones excluded)." + _PUSHED_NOTE,
            COUNT,
            [
                query(
                    f'max by (rule) (zapq_schedule_run_messages{{{PUSHED}, outcome="enqueued"}})',
                    "{{rule}}",
                )
            ],
        ),
        graph(
            "Skipped messages per rule",
            "Messages of the last run not enqueued, per rule and reason: outside the send "
            "window, an invalid phone, a template field missing." + _PUSHED_NOTE,
            COUNT,
            [
                query(
                    f"max by (rule, outcome) (zapq_schedule_run_messages{{{PUSHED}, {problems}}})",
                    "{{rule}} {{outcome}}",
                ),
                query(
                    f'max(zapq_schedule_run_charges{{{PUSHED}, outcome="invalid_records"}})',
                    "invalid source records",
                ),
            ],
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
