"""`zapq schedule` over 100,000 charges from the HTTP source (issue: billing-reminder scheduler).
Rerun with:

    .venv/bin/python -m loadtest.bench_schedule                  # ~1 minute; JSON on stdout
    .venv/bin/python -m loadtest.bench_schedule --charges 20000  # a quicker look

Everything runs on this machine: its own redis-server and a billing API (tests/scheduler/
billing_api.py: cursor pagination, a total, charges made on demand) on 127.0.0.1. `zapq schedule`
runs as a subprocess twice over the same data: the first run enqueues, the second must enqueue 0
(every key is a duplicate). Each run's wall time and peak RSS (os.wait4's ru_maxrss, of that
process alone) are printed with its summary. Targets: under 60 s and under 200 MB per run.

The run date is the next day the default calendar allows (Mon-Sat), so every window lies ahead
and messages are scheduled whatever the time the benchmark runs. Due dates cycle over eight
offsets, five of them the default rules' (-3, 0, 1, 3, 7 days), and one charge in 17 is paid:
about 59 % of the charges get a message. ``--all-eligible`` gives every charge a message (the
worst case for Redis: 100,000 messages enqueued).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml

from service.devstack import child_env, redis_server
from tests.scheduler.billing_api import BillingApi, LazyCharges

# Due date = run date - offset: five rule offsets and three that match no rule.
_OFFSETS = (-3, 0, 1, 3, 7, 2, 5, -1)
_RULES = {
    "source": {
        "fields": {"customer_name": "customer.name", "phone": "customer.phone"},
        "http": {"page_size": 1000},
    }
}


def next_open_day(today: date) -> date:
    day = today + timedelta(days=1)
    return day + timedelta(days=1) if day.weekday() == 6 else day


def make_charge(run_date: date, all_eligible: bool) -> Any:
    offsets = _OFFSETS[:5] if all_eligible else _OFFSETS

    def make(index: int) -> dict[str, Any]:
        return {
            "id": f"ch_{index:07d}",
            "customer": {"name": f"CLIENTE {index} DA SILVA", "phone": f"+55 11 9{index:08d}"},
            "amount": f"{(index % 5000) + 19.9:.2f}",
            "due_date": (run_date - timedelta(days=offsets[index % len(offsets)])).isoformat(),
            "status": "paid" if index % 17 == 0 and not all_eligible else "open",
            "payment_link": f"https://pay.example/{index}",
        }

    return make


def timed_run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One `zapq schedule`: wall seconds, peak RSS (MiB) and its summary line."""
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out_file, stderr=err_file)
        # wait4, not wait: the rusage of this one child, not of every child so far.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if proc.returncode != 0:
        sys.stderr.write(err.decode() + out.decode()[-2000:])
        raise SystemExit(f"zapq schedule exited with {proc.returncode}")
    summary = orjson.loads(out.splitlines()[-1])
    return {
        "wall_seconds": round(wall, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "found": summary["found"],
        "planned": summary["planned"],
        "enqueued": summary["enqueued"],
        "deduped": summary["deduped"],
        "skipped_paid_or_cancelled": summary["skipped_paid_or_cancelled"],
        "run_duration_seconds": summary["duration_seconds"],
    }


def run(count: int, all_eligible: bool) -> dict[str, Any]:
    run_date = next_open_day(date.today())
    work = Path(tempfile.mkdtemp(prefix="zapq-bench-schedule-"))
    rules = work / "rules.yaml"
    rules.write_text(yaml.safe_dump(_RULES))
    charges = LazyCharges(count, make_charge(run_date, all_eligible))
    results: dict[str, Any] = {
        "charges": count,
        "run_date": run_date.isoformat(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with redis_server(work / "redis") as redis_url, BillingApi(charges) as api:
        env = child_env(
            ZAPQ_REDIS_URL=redis_url,
            ZAPQ_LOG_LEVEL="WARNING",
            ZAPQ_SCHEDULE__SOURCE_URL=f"{api.url}/cursor/charges",
            ZAPQ_SCHEDULE__RULES_FILE=str(rules),
        )
        args = [sys.executable, "-m", "service", "schedule", "--date", run_date.isoformat()]
        results["first_run"] = timed_run(args, env)
        results["second_run"] = timed_run(args, env)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--charges", type=int, default=100_000, help="charges the API serves")
    parser.add_argument("--all-eligible", action="store_true", help="every charge gets a message")
    args = parser.parse_args()
    print(json.dumps(run(args.charges, args.all_eligible), indent=2))


if __name__ == "__main__":
    main()
