"""The worker autoscaler as the chart renders it (Helm's own engine), and the worker pod's
resource requests the Utilization targets are a percentage of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from loadtest.autoscaler.spec import HpaSpec, SpecError, parse_quantity
from scripts.render_k8s import render

WORKER = "zapq-worker"  # the chart's worker Deployment / HPA / ScaledObject as release "zapq"


@dataclass(frozen=True)
class WorkerAutoscaler:
    spec: HpaSpec
    requests: dict[str, float]  # per pod: cpu in cores, memory in bytes
    kind: str  # HorizontalPodAutoscaler or ScaledObject


def rendered_objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path, text in sorted(render(values).items()):
        if path.endswith(".yaml"):
            docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


def worker_autoscaler(values: dict[str, Any] | None = None) -> WorkerAutoscaler:
    """The worker HPA (mode hpa) or KEDA's HPA for the ScaledObject (mode keda)."""
    objs = {(o["kind"], o["metadata"]["name"]): o for o in rendered_objects(values or {})}
    deployment = objs.get(("Deployment", WORKER))
    if deployment is None:
        raise SpecError("the chart renders no worker Deployment (worker.enabled false?)")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    requests = {k: parse_quantity(v) for k, v in container["resources"]["requests"].items()}
    if ("HorizontalPodAutoscaler", WORKER) in objs:
        hpa = objs["HorizontalPodAutoscaler", WORKER]
        return WorkerAutoscaler(HpaSpec.from_hpa(hpa), requests, "HorizontalPodAutoscaler")
    if ("ScaledObject", WORKER) in objs:
        scaled = objs["ScaledObject", WORKER]
        return WorkerAutoscaler(HpaSpec.from_scaled_object(scaled), requests, "ScaledObject")
    raise SpecError("the chart renders no worker autoscaler (worker.autoscaling.mode none?)")


def set_value(values: dict[str, Any], dotted_key: str, value: Any) -> dict[str, Any]:
    """values[a][b][c] = value for "a.b.c" (like `helm --set`), creating the mappings."""
    node = values
    *parents, leaf = dotted_key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return values
