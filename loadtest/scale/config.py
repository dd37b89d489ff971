"""What a scale run is: the scenarios with the reference design's expectations, and the rates,
all multiplied by one ``rate_scale`` so that a 2-core machine keeps every ratio of the design.

At rate_scale 1 the run is the reference: 20 senders (Evolution instances) x 50 msg/s, workers at
50 msg/s with a burst of 100, the chart's HPA (target 50 x 60 = 3,000 ready messages per pod).
A rate_scale f multiplies every rate, the bursts and, unless ``full_counts``, the message counts:
the backlog per pod over the target, the drain time and the backlog's HPA decisions stay those of
the reference, and every figure is reported with f next to it. Durations (latency, HPA sync and
windows, worker start-up) are not scaled. The worker's CPU request stays the chart's (250m)
unless ``cpu_request_millicores`` is set: a worker's CPU is a fixed part (the idle wait,
gauges, /metrics) plus a part per message, so no single factor keeps the CPU utilization of the
reference; at f < 1 the CPU metric reads lower than at the reference rates (measured per sync in
the report) and the backlog drives the scaling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from loadtest.autoscaler.chart import set_value
from loadtest.procs import BENCH_API_KEY, zapq_env

API_KEY = BENCH_API_KEY
REFERENCE_SENDER_RATE = 50.0  # msg/s per sender (one Evolution instance), the design's figure
REFERENCE_WORKER_RATE = 50.0  # the chart's worker.ratePerSecond
REFERENCE_WORKER_BURST = 100  # ZAPQ_WORKER__RATE_BURST's default
SENDERS = 20  # the pool: 20 x 50 msg/s = 1,000 msg/s, what 20 pods send
LATENCY_MS = 100  # Evolution's answer time the design assumes (README, sizing rule)


@dataclass(frozen=True)
class Scenario:
    name: str
    messages: int
    reference: str  # the reference design's words
    reference_seconds: float  # its drain time


SCENARIOS = {
    "1k": Scenario("1k", 1_000, "1,000 messages in ~20 s on 2 pods", 20),
    "10k": Scenario("10k", 10_000, "10,000 in ~100 s while scaling 2 -> 4 -> 6", 100),
    "100k": Scenario(
        "100k",
        100_000,
        "100,000 at 1,000 msg/s with 20 pods; target: 2 -> 20 within 60 s, drained within 3 min",
        180,
    ),
}


@dataclass(frozen=True)
class RunConfig:
    rate_scale: float = 1.0
    full_counts: bool = False  # push the scenario's own count even when rate_scale < 1
    senders: int = SENDERS
    latency_ms: int = LATENCY_MS
    sync_seconds: float = 15.0
    # After the drain the HPA keeps running this long, to show the gentle scale-down (its 300 s
    # stabilization window plus a few 60 s policy periods).
    tail_seconds: float = 0.0
    cpu_request_millicores: float | None = None  # None: the chart's worker CPU request
    values: tuple[tuple[str, Any], ...] = ()  # extra chart values (dotted key, value)

    def __post_init__(self) -> None:
        if not 0 < self.rate_scale <= 1:
            raise ValueError(f"rate_scale must be in (0, 1], got {self.rate_scale}")
        if self.senders < 1:
            raise ValueError(f"senders must be >= 1, got {self.senders}")

    def messages(self, scenario: Scenario) -> int:
        return (
            scenario.messages
            if self.full_counts
            else max(1, round(scenario.messages * self.rate_scale))
        )

    @property
    def worker_rate(self) -> float:
        return REFERENCE_WORKER_RATE * self.rate_scale

    @property
    def worker_burst(self) -> int:
        return max(1, round(REFERENCE_WORKER_BURST * self.rate_scale))

    def instances(self) -> list[str]:
        return [f"s{i + 1}" for i in range(self.senders)]

    def chart_values(self) -> dict[str, Any]:
        """The chart's values for this run: the worker rate (hence the backlog target), the CPU
        request if set, plus ``values``."""
        values: dict[str, Any] = {"worker": {"ratePerSecond": self.worker_rate}}
        if self.cpu_request_millicores is not None:
            set_value(values, "worker.resources.requests.cpu", f"{self.cpu_request_millicores:g}m")
        for key, value in self.values:
            set_value(values, key, value)
        return values

    def senders_json(self) -> str:
        """ZAPQ_SENDERS: the pool, each sender one instance with a rate all pods share."""
        rate = REFERENCE_SENDER_RATE * self.rate_scale
        pool = [
            {"name": name, "instance": name, "rate_per_second": rate, "burst": self.worker_burst}
            for name in self.instances()
        ]
        return json.dumps(pool)

    def worker_env(self, redis_url: str, sim_url: str, ordinal: int) -> dict[str, str]:
        """A worker pod's environment: every pod sends through the whole pool (ZAPQ_SENDERS), each
        sender's rate shared by all of them."""
        return zapq_env(
            redis_url,
            sim_url,
            ZAPQ_SENDERS=self.senders_json(),
            ZAPQ_WORKER__RATE_PER_SECOND=f"{self.worker_rate:g}",
            ZAPQ_WORKER__RATE_BURST=str(self.worker_burst),
        )
