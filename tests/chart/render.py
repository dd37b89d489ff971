"""Render the chart with the real Helm engine (helm-python-sdk: Helm's Go SDK, no binary)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "zapq"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "zapq"
NAMESPACE = "zapq"
# Chart.yaml's kubeVersion floor and the newest schema kubernetes-validate ships.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
# Kinds of CRDs (KEDA, Prometheus Operator): no Kubernetes schema; checked by assertions.
CRD_KINDS = {"ScaledObject", "ServiceMonitor", "PrometheusRule"}


def ci_values(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {})


def render_templates(values: dict[str, Any]) -> dict[str, str]:
    chart = helm_python.Chart.load(CHART)
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders with these values, NOTES.txt left out."""
    found = []
    for path, text in sorted(render_templates(values).items()):
        if not path.endswith(".yaml"):
            continue
        found += [doc for doc in yaml.safe_load_all(text) if doc]
    return found


@cache
def _rendered(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(objects(ci_values(name)))


def rendered(name: str) -> list[dict[str, Any]]:
    """The objects of ci/<name>-values.yaml (cached: the tests only read them)."""
    return list(_rendered(name))


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(obj["spec"]["template"]["spec"])


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"])
    return dict(obj["spec"]["template"]["metadata"]["labels"])


WORKLOADS = {"Deployment", "StatefulSet", "CronJob"}
