"""`zapq schedule`: the arguments (cheap to import: service/cli.py builds every parser) and the
entry point, which imports the scheduler only when it runs.

Exit codes: 0 the run completed (per-charge problems are in the summary), 1 the run failed (source
unreachable or unreadable, nothing read, Redis down), 2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules", metavar="FILE", help="rules file (default: ZAPQ_SCHEDULE__RULES_FILE)"
    )
    parser.add_argument(
        "--source",
        choices=["http", "file", "sql"],
        help="where charges come from (default: ZAPQ_SCHEDULE__SOURCE, http)",
    )
    parser.add_argument(
        "--source-url",
        metavar="URL",
        help="billing API URL, or CSV / JSON Lines path or URL (default: "
        "ZAPQ_SCHEDULE__SOURCE_URL)",
    )
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="run as if today were this date (replay a day; default: today in the time zone)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print counts per rule and sample messages; enqueue nothing, record nothing",
    )


def run(args: argparse.Namespace, settings: Settings) -> None:
    """``settings`` come from service.config_errors.load_settings: invalid ones exit 2 before
    this, with no Redis to record the run in (the missed-run alert reports it)."""
    from service.logging import configure_logging
    from service.scheduler.errors import ConfigError, RulesError
    from service.scheduler.run import RunOptions, run_schedule

    configure_logging(settings.log_level)
    options = RunOptions(
        run_date=args.date,
        dry_run=args.dry_run,
        rules_file=args.rules,
        source=args.source,
        source_url=args.source_url,
    )
    summary = asyncio.run(run_schedule(settings, options))
    if summary.error_code in {ConfigError.code, RulesError.code}:
        sys.exit(EXIT_CONFIG)
    sys.exit(EXIT_FAILED if summary.failed else EXIT_OK)
