"""A scale run's figures (JSON) and plots (PNG): total time, replicas, ready backlog and send
rate (total and per sender) over time, lost and duplicate counts, next to the reference design's
expectation for the same scenario."""

from __future__ import annotations

import json
import math
import os
import platform
from collections import Counter
from pathlib import Path
from typing import Any

from loadtest.scale.run import Outcome


def rate_series(times: list[float], start: float, bin_seconds: float = 1.0) -> list[int]:
    """Sends per ``bin_seconds`` from ``start`` to the last send."""
    if not times:
        return []
    bins = [0] * (math.floor((max(times) - start) / bin_seconds) + 1)
    for at in times:
        bins[max(0, math.floor((at - start) / bin_seconds))] += 1
    return bins


def summary(outcome: Outcome) -> dict[str, Any]:
    config, start = outcome.config, outcome.started_at
    arrivals = sorted(m["received_at"] for m in outcome.received)
    per_sender = Counter(m["instance"] for m in outcome.received)
    # The count before the first sync's decision, then each sync's decision.
    replicas = [s["replicas"] for s in outcome.syncs[:1]] + [s["desired"] for s in outcome.syncs]
    peak = max(replicas, default=0)
    reached_peak = next((s["at"] - start for s in outcome.syncs if s["desired"] == peak), None)
    drain_seconds = arrivals[-1] - start if arrivals else None
    sent = outcome.statuses.get("sent", 0)
    return {
        "scenario": outcome.scenario.name,
        "reference_design": outcome.scenario.reference,
        "rate_scale": config.rate_scale,
        "scaling_note": _note(config),
        "messages": outcome.messages,
        "senders": config.senders,
        "sender_rate_msg_per_s": 50 * config.rate_scale,
        "worker_rate_msg_per_s": config.worker_rate,
        "hpa_sync_seconds": config.sync_seconds,
        "total_seconds": round(drain_seconds, 1) if drain_seconds else None,
        "reference_seconds": outcome.scenario.reference_seconds,
        "enqueue_seconds": round(outcome.enqueue_seconds, 2),
        "enqueue_msg_per_s": round(outcome.messages / outcome.enqueue_seconds),
        "drain_msg_per_s": round(len(arrivals) / drain_seconds, 1) if drain_seconds else None,
        "peak_replicas": peak,
        "seconds_to_peak_replicas": max(0.0, round(reached_peak, 1))
        if reached_peak is not None
        else None,
        "replica_path": _path(replicas),
        "sent": sent,
        "lost": outcome.messages - sent,
        "statuses": outcome.statuses,
        "duplicates": outcome.sim_stats.get("duplicates"),
        "sim_accepted": outcome.sim_stats.get("accepted"),
        "pods_started": outcome.pods_started,
        "scaled_down_pods_exit_codes": [
            code for _, code, terminated in outcome.exits if terminated
        ],
        "per_sender_sent": dict(sorted(per_sender.items(), key=lambda kv: int(kv[0][1:]))),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
    }


def _note(config: Any) -> str:
    if config.rate_scale == 1:
        return "reference rates"
    counts = "" if config.full_counts else " and message counts"
    return (
        f"rates, bursts{counts} x {config.rate_scale:g} (backlog ratios of the reference design "
        "kept; durations and the CPU request unscaled)"
    )


def _path(replicas: list[int]) -> str:
    path: list[int] = []
    for n in replicas:
        if not path or path[-1] != n:
            path.append(n)
    return " -> ".join(map(str, path))


def write(outcome: Outcome, out_dir: Path) -> dict[str, Any]:
    """<scenario>.json (summary + series) and <scenario>.png under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = summary(outcome)
    series = {
        "samples": [
            {"t": round(t, 2), "backlog": b, "replicas": r, "ready": ready}
            for t, b, r, ready in outcome.samples.rows
        ],
        "syncs": [{**s, "t": round(s["at"] - outcome.started_at, 2)} for s in outcome.syncs],
    }
    name = f"scale-{outcome.scenario.name}"
    (out_dir / f"{name}.json").write_text(json.dumps({**figures, **series}, indent=1) + "\n")
    plot(outcome, figures, out_dir / f"{name}.png")
    return figures


def plot(outcome: Outcome, figures: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = outcome.started_at
    rows = outcome.samples.rows
    fig, axes = plt.subplots(4, 1, figsize=(9, 10), sharex=True, constrained_layout=True)
    t = [r[0] for r in rows]
    axes[0].step(t, [r[2] for r in rows], where="post", label="replicas (HPA)")
    axes[0].step(t, [r[3] for r in rows], where="post", label="ready pods", linestyle="--")
    axes[0].set_ylabel("worker pods")
    axes[0].legend(loc="upper right")
    axes[1].plot(t, [r[1] if r[1] is not None else float("nan") for r in rows])
    axes[1].set_ylabel("ready backlog")
    total = rate_series([m["received_at"] for m in outcome.received], start)
    axes[2].plot(range(len(total)), total)
    axes[2].set_ylabel("sent msg/s (total)")
    by_sender: dict[str, list[float]] = {}
    for message in outcome.received:
        by_sender.setdefault(message["instance"], []).append(message["received_at"])
    for times in by_sender.values():
        rates = rate_series(times, start)
        axes[3].plot(range(len(rates)), rates, linewidth=0.7)
    axes[3].set_ylabel("msg/s per sender")
    axes[3].set_xlabel("seconds since the first enqueue")
    fig.suptitle(
        f"{figures['messages']:,} messages ({figures['scenario']}, rate scale "
        f"{figures['rate_scale']:g}): {figures['total_seconds']} s, replicas "
        f"{figures['replica_path']}, lost {figures['lost']}, duplicates {figures['duplicates']}\n"
        f"reference: {figures['reference_design']}",
        fontsize=9,
    )
    fig.savefig(path, dpi=80)
    plt.close(fig)
