"""python -m loadtest.scale --scenario 1k|10k|100k|all [--rate-scale 0.2] [--tail-seconds 420]

Runs the reference design's scale scenarios on this machine (loadtest/README.md): prints each
scenario's figures as JSON and writes <out>/scale-<scenario>.json and .png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml

from loadtest.scale.config import SCENARIOS, RunConfig
from loadtest.scale.report import write
from loadtest.scale.run import run


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], required=True)
    parser.add_argument("--rate-scale", type=float, default=1.0, help="x every rate (0-1]")
    parser.add_argument("--full-counts", action="store_true", help="unscaled message counts")
    parser.add_argument("--senders", type=int, default=20, help="sender pool size")
    parser.add_argument("--sync-seconds", type=float, default=15.0, help="HPA sync period")
    parser.add_argument("--cpu-request-millicores", type=float, help="worker CPU request")
    parser.add_argument(
        "--tail-seconds", type=float, default=0.0, help="keep scaling after the drain"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/scale"), help="JSON and PNG here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a chart value, e.g. worker.autoscaling.mode=keda (repeatable)",
    )
    return parser.parse_args(argv)


def _assignment(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--set wants KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(raw)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        config = RunConfig(
            rate_scale=args.rate_scale,
            full_counts=args.full_counts,
            senders=args.senders,
            sync_seconds=args.sync_seconds,
            tail_seconds=args.tail_seconds,
            cpu_request_millicores=args.cpu_request_millicores,
            values=tuple(_assignment(a) for a in args.set),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"zapq-scale-{name}-") as logs:
            outcome = run(SCENARIOS[name], config, Path(logs))
        print(json.dumps(write(outcome, args.out)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
