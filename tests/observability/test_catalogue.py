"""docs/metrics.md against the code: every exported metric, its type and labels, and who uses it."""

from __future__ import annotations

import re
from collections import defaultdict

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from service import metrics
from service.evolution.errors import ERROR_CLASSES
from service.queue.keys import PRIORITIES
from service.queue.models import Kind
from service.scheduler import metrics as scheduler_metrics
from service.worker.delivery import SenderGone
from tests.observability.catalogue import (
    CATALOGUE,
    Expression,
    alert_expressions,
    base_name,
    catalogue,
    dashboard_expressions,
)

CLUSTER_PREFIXES = ("kube_", "container_")


def zapq_metrics() -> dict[str, MetricWrapperBase]:
    """Series name (counters with _total) -> metric object, for every metric object zapq defines:
    service.metrics (api, workers) and the scheduler's pushed registry."""
    found = {}
    for value in [*vars(metrics).values(), *vars(scheduler_metrics).values()]:
        if isinstance(value, MetricWrapperBase):
            name = value._name + ("_total" if value._type == "counter" else "")
            found[name] = value
    return found


def exposed_families() -> dict[str, str]:
    """Every family on a zapq /metrics page (the default registry) or in the scheduler's push:
    name -> type."""
    text = (generate_latest(REGISTRY) + generate_latest(scheduler_metrics.REGISTRY)).decode()
    families = {}
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        total = kind == "counter" and not name.endswith("_total")
        families[name + ("_total" if total else "")] = kind
    return families


def test_every_exported_metric_is_catalogued_and_nothing_else() -> None:
    documented = {name for name in catalogue() if not name.startswith(CLUSTER_PREFIXES)}
    exported = set(exposed_families()) | set(zapq_metrics())
    assert documented - exported == set(), "catalogued but not exported"
    assert exported - documented == set(), f"exported but missing from {CATALOGUE.name}"


def test_types_labels_and_naming() -> None:
    entries = catalogue()
    for name, metric in zapq_metrics().items():
        kind, labels, unit = entries[name].cells[:3]
        assert kind == metric._type, name
        assert re.findall(r"`(\w+)`", labels) == list(metric._labelnames), name
        assert unit, f"{name} has no unit"
        if kind == "counter":
            assert name.endswith("_total")
        if kind == "gauge":
            assert not name.endswith("_total"), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name
    for name, kind in exposed_families().items():
        assert entries[name].cells[0] == kind, name


def test_label_values_are_the_bounded_sets_in_the_code() -> None:
    text = CATALOGUE.read_text()

    def values(label: str) -> list[str]:
        row = re.search(rf"^\| `{label}` \| (.*) \|$", text, re.MULTILINE)
        assert row, f"no label row for {label}"
        return re.findall(r"`(\w+)`", row.group(1))

    assert values("priority") == list(PRIORITIES)
    assert values("kind") == list(Kind)
    assert values("error_class") == [*ERROR_CLASSES, "redelivery_limit", SenderGone.error_class]
    assert re.search(r"^\| `sender` \| .*configuration", text, re.MULTILINE), "no sender row"


def readers(expressions: list[Expression]) -> dict[str, set[tuple[str, str]]]:
    """Metric (histograms by their base name) -> where it is read: (board, panel) or
    ("alert", name)."""
    entries = catalogue()
    histograms = {name for name, entry in entries.items() if entry.cells[0] == "histogram"}
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for expression in expressions:
        for series in expression.series:
            found[base_name(series, histograms)].add(expression.where)
    return found


def test_used_by_names_exactly_the_panels_that_read_each_metric() -> None:
    entries = catalogue()
    panels_reading = readers(dashboard_expressions())
    assert set(panels_reading) - set(entries) == set(), "dashboards read metrics not catalogued"
    for name, entry in entries.items():
        panels = {where for where in entry.used_by if where[0] != "alert"}
        assert panels == panels_reading.get(name, set()), name


def test_used_by_names_exactly_the_alerts_that_read_each_metric() -> None:
    entries = catalogue()
    alerts = alert_expressions()
    assert alerts, "no alert rules found under helm/zapq"
    alerts_reading = readers(alerts)
    assert set(alerts_reading) - set(entries) == set(), "alerts read metrics not catalogued"
    for name, entry in entries.items():
        named = {where for where in entry.used_by if where[0] == "alert"}
        assert named == alerts_reading.get(name, set()), name


def test_the_alerts_paragraph_links_every_alert() -> None:
    text = CATALOGUE.read_text()
    paragraph = text[text.index("\n## Alerts") : text.index("\n## On a terminal")]
    linked = set(re.findall(r"\[(\w+)\]\(alerts\.md#(\w+)\)", paragraph))
    assert linked == {(e.where[1], e.where[1].lower()) for e in alert_expressions()}
