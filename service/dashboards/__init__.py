"""Grafana dashboards as code (grafana-foundation-sdk builders), rendered to the chart.

    .venv/bin/python -m service.dashboards           # write helm/zapq/dashboards/*.json
    .venv/bin/python -m service.dashboards --check   # exit 1 when the committed JSON is stale

The chart ships the JSON as a ConfigMap for Grafana's dashboard sidecar; the metric catalogue
(docs/metrics.md) says which panel uses which metric, and tests/observability checks both against
the code and a real Prometheus.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import RowPanel

from service.dashboards import overview, scaling, scheduler, sending

#: file name (under helm/zapq/dashboards/) -> builder
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "zapq-overview.json": overview.build,
    "zapq-sending.json": sending.build,
    "zapq-scaling.json": scaling.build,
    "zapq-scheduler.json": scheduler.build,
}
OUTPUT_DIR = Path(__file__).resolve().parents[2] / "helm" / "zapq" / "dashboards"


def render(build: Callable[[], Dashboard]) -> str:
    """The dashboard's JSON as committed: stable key order, panel ids 1..n in layout order."""
    model = build().build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
        if isinstance(panel, RowPanel):
            panel.panels = []
    return JSONEncoder(sort_keys=True, indent=2).encode(model) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(build) for name, build in DASHBOARDS.items()}
