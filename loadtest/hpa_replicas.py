"""What the worker HPA of the chart asks for at a given ready backlog, by the documented formula.

    .venv/bin/python -m loadtest.hpa_replicas [--current 2] [--backlog 1000 10000 100000]

The numbers come from the chart as Helm renders it with its default values: bounds, the backlog
target per pod and the scale-up policies. The HPA's algorithm (Kubernetes docs, "Algorithm
details"): desired = ceil(current x currentMetric / target), and for an AverageValue External
metric currentMetric = backlog / current, so desired = ceil(backlog / target); no change while
the ratio is within the 10 % tolerance; then clamped to [minReplicas, maxReplicas]. The behavior
policies limit each minute's step: with selectPolicy Max, the larger of +percent
(ceil(current x (1 + percent/100))) and +pods.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import yaml

from tests.chart.render import by_kind, objects

TOLERANCE = 0.1  # kube-controller-manager's --horizontal-pod-autoscaler-tolerance default


@dataclass(frozen=True)
class WorkerHpa:
    min_replicas: int
    max_replicas: int
    target_per_pod: float
    up_percent: int
    up_pods: int
    period_seconds: int

    @classmethod
    def from_chart(cls, values: dict[str, Any] | None = None) -> WorkerHpa:
        spec = by_kind(objects(values or {}), "HorizontalPodAutoscaler")["zapq-worker"]["spec"]
        external = next(m for m in spec["metrics"] if m["type"] == "External")["external"]
        policies = {p["type"]: p for p in spec["behavior"]["scaleUp"]["policies"]}
        return cls(
            min_replicas=spec["minReplicas"],
            max_replicas=spec["maxReplicas"],
            target_per_pod=float(external["target"]["averageValue"]),
            up_percent=policies["Percent"]["value"],
            up_pods=policies["Pods"]["value"],
            period_seconds=policies["Pods"]["periodSeconds"],
        )

    def desired(self, backlog: int, current: int) -> tuple[int, int]:
        """(unclamped formula result, what the HPA asks for within its bounds)."""
        ratio = (backlog / current) / self.target_per_pod
        raw = current if abs(ratio - 1) <= TOLERANCE else math.ceil(current * ratio)
        return raw, min(self.max_replicas, max(self.min_replicas, raw))

    def step_limit(self, current: int) -> int:
        by_percent = math.ceil(current * (1 + self.up_percent / 100))
        return min(self.max_replicas, max(by_percent, current + self.up_pods))

    def path(self, backlog: int, current: int) -> list[int]:
        """Replicas minute by minute while the backlog stays at this level (no draining)."""
        goal = self.desired(backlog, current)[1]
        steps = [current]
        while steps[-1] < goal:
            steps.append(min(goal, self.step_limit(steps[-1])))
        return steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current", type=int, default=2, help="worker pods now")
    parser.add_argument("--backlog", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args(argv)
    hpa = WorkerHpa.from_chart()
    print(yaml.safe_dump({"chart": vars(hpa)}, sort_keys=False).rstrip())
    print(
        f"\n{'backlog':>8} {'formula':>8} {'desired':>8}  replicas per minute (from {args.current})"
    )
    for backlog in args.backlog:
        raw, desired = hpa.desired(backlog, args.current)
        steps = " -> ".join(str(n) for n in hpa.path(backlog, args.current))
        print(f"{backlog:>8,} {raw:>8} {desired:>8}  {steps}")


if __name__ == "__main__":
    main()
