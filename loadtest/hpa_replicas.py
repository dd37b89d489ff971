"""What the chart's worker autoscaler does with a ready backlog, sync by sync: a view of the
emulated HPA (loadtest/autoscaler) over a backlog that stays put (nothing drains).

    .venv/bin/python -m loadtest.hpa_replicas [--current 2] [--backlog 1000 10000 100000]
        [--set worker.autoscaling.mode=keda ...]

The HPA (or KEDA's HPA) is read as Helm renders the chart with its default values (or --set
overrides); the pods use none of their CPU and memory requests, so only the backlog moves the count.
"""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from loadtest.autoscaler.chart import set_value, worker_autoscaler
from loadtest.autoscaler.synthetic import SYNC_SECONDS, replay

SYNCS = 40  # 10 minutes of 15 s syncs: longer than any policy period the chart allows to matter


def steps(
    values: dict[str, Any], backlog: float, current: int, syncs: int = SYNCS
) -> list[tuple[float, int]]:
    """(seconds since the backlog appeared, replicas) at each change, starting with ``current``."""
    scaler = worker_autoscaler(values)
    decisions = replay(scaler.spec, scaler.requests, [backlog] * syncs, current)
    path = [(0.0, current)]
    for decision in decisions:
        if decision.desired != path[-1][1]:
            path.append((decision.at, decision.desired))
    return path


def _set(values: dict[str, Any], assignment: str) -> dict[str, Any]:
    key, _, raw = assignment.partition("=")
    return set_value(values, key, yaml.safe_load(raw))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current", type=int, default=2, help="worker pods now")
    parser.add_argument("--backlog", type=float, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for assignment in args.set:
        _set(values, assignment)
    scaler = worker_autoscaler(values)
    spec = scaler.spec
    bounds = f"{spec.min_replicas}-{spec.max_replicas} pods"
    print(f"{scaler.kind} {spec.name}: {bounds}, sync {SYNC_SECONDS:g} s")
    for metric in spec.metrics:
        print(f"  {metric.source} {metric.name}: {metric.target_type} {metric.target:g}")
    print(f"\n{'backlog':>9}  replicas (seconds after the backlog appeared), from {args.current}")
    for backlog in args.backlog:
        path = " -> ".join(f"{n} ({t:g} s)" for t, n in steps(values, backlog, args.current))
        print(f"{backlog:>9,.0f}  {path}")


if __name__ == "__main__":
    main()
