"""Render the chart with the real Helm engine (helm-python-sdk: Helm's Go SDK, no binary)."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from scripts.render_k8s import CHART_DIR as CHART
from scripts.render_k8s import NAMESPACE, RELEASE, ROOT
from scripts.render_k8s import render as render_templates
from scripts.render_k8s import secret_refs as _secret_refs

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
# Chart.yaml's kubeVersion floor and the newest schema kubernetes-validate ships.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
# Kinds of CRDs (KEDA, Prometheus Operator): no Kubernetes schema; checked by assertions.
CRD_KINDS = {"ScaledObject", "ServiceMonitor", "PrometheusRule"}
# Re-exported: the chart tests take the release and paths from here.
__all__ = ["CHART", "NAMESPACE", "RELEASE", "ROOT", "render_templates"]


def ci_values(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {})


def objects(values: dict[str, Any], **release: str) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders with these values, NOTES.txt left out (release
    `name` and `namespace` default to zapq)."""
    found = []
    for path, text in sorted(render_templates(values, **release).items()):
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


def secret_refs(obj: dict[str, Any]) -> set[tuple[str, str]]:
    """(secret, key) of every secretKeyRef and secret volume item of an object."""
    return {(secret, key) for secret, key, _ in _secret_refs(obj)}


WORKLOADS = {"Deployment", "StatefulSet", "CronJob"}
