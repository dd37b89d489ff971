"""The bench's markdown table: one row per contender, the columns of issue #14 item 6."""

from __future__ import annotations

from typing import Any

_COLUMNS = (
    ("peer", "peer"),
    ("drain s", "drain_seconds"),
    ("efficiency vs {rate}/s", "efficiency"),
    ("peak sends in any 1 s", "peak_sends_in_any_1s"),
    ("peak after the 1st s", "peak_sends_in_any_1s_after_first_second"),
    ("worker CPU ms/msg", "cpu_ms_per_message"),
    ("idle Redis cmd/s", "idle_commands_per_second"),
    ("lost", "lost"),
    ("duplicates", "duplicates"),
)


def _cell(row: dict[str, Any], key: str) -> str:
    value = row["idle"]["commands_per_second"] if key == "idle_commands_per_second" else row[key]
    if key == "drain_seconds" and not row["drained"]:
        return f"{value} (timed out)"
    return "-" if value is None else str(value)


def table(rows: list[dict[str, Any]], rate_per_second: int) -> str:
    header = [title.format(rate=rate_per_second) for title, _ in _COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(row, key) for _, key in _COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def notes(rows: list[dict[str, Any]], machine: str) -> str:
    """What a reader needs beside the table: the machine, its load, and the enqueue rates that
    show the load generator was not the bottleneck."""
    lines = [f"Machine: {machine} (shared with other work: see each run's load average)."]
    for row in rows:
        lines.append(
            f"- {row['peer']}: {row['config']}; enqueued at {row['enqueue_msg_per_s']} msg/s "
            f"before the workers started; workers booted in {row['boot_seconds']} s; "
            f"1-min load average before: {row['load_average_1m_before']}"
        )
    return "\n".join(lines)
