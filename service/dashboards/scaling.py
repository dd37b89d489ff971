"""zapq / Scaling: is the worker autoscaler keeping up, and what do the pods cost.

Replica and target series come from kube-state-metrics, CPU and memory from cAdvisor (the kubelet):
both exist only in a cluster. The process panels read zapq's own /metrics and work anywhere.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from service.dashboards.panels import (
    BYTES,
    CORES,
    COUNT,
    RATE,
    RELEASE_PODS,
    SEL,
    WORKERS,
    PanelBuilder,
    dashboard,
    graph,
    query,
    shared,
)

# The worker HPA: "<release>-worker" from the chart, or "keda-hpa-<release>-worker" when KEDA
# owns it.
HPA = 'namespace=~"$namespace", horizontalpodautoscaler=~"(keda-hpa-)?$release-worker"'
# Real containers only: cAdvisor also reports the pod sandbox ("POD") and a pod-level total ("").
CONTAINERS = f'namespace=~"$namespace", {RELEASE_PODS}, container!="", container!="POD"'
READY_TOTAL = f"sum({shared('zapq_queue_ready_messages', 'priority')})"


def build() -> Dashboard:
    return dashboard(
        "zapq-scaling",
        "zapq / Scaling",
        "Worker replicas against the autoscaler's wishes, the queue signal it scales on, and "
        "CPU and memory per pod.",
        [
            ("Autoscaler", _autoscaler()),
            ("Resources", _resources()),
        ],
    )


def _autoscaler() -> list[PanelBuilder]:
    return [
        graph(
            "Worker replicas: current vs desired",
            "The worker HPA's current and desired replicas and its bounds (kube-state-metrics). "
            "Desired above current for long: pods cannot be scheduled.",
            COUNT,
            [
                query(
                    f"max(kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}})", "current"
                ),
                query(
                    f"max(kube_horizontalpodautoscaler_status_desired_replicas{{{HPA}}})", "desired"
                ),
                query(f"max(kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}})", "min"),
                query(f"max(kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}})", "max"),
            ],
        ),
        graph(
            "Queue signal vs HPA target",
            "What the autoscaler scales on: the ready backlog per worker replica, against the "
            "HPA's target value for it (kube-state-metrics).",
            COUNT,
            [
                query(
                    f"{READY_TOTAL} / clamp_min(count(zapq_worker_max_jobs{{{WORKERS}}}), 1)",
                    "ready per worker",
                ),
                query(f"max(kube_horizontalpodautoscaler_spec_target_metric{{{HPA}}})", "target"),
            ],
        ),
        graph(
            "Workers reporting",
            "Worker processes Prometheus scrapes now (from zapq's own /metrics), and their "
            "total job slots.",
            COUNT,
            [
                query(f"count(zapq_worker_max_jobs{{{WORKERS}}})", "workers"),
                query(f"sum(zapq_worker_max_jobs{{{WORKERS}}})", "job slots"),
            ],
            width=24,
        ),
    ]


def _resources() -> list[PanelBuilder]:
    return [
        graph(
            "CPU per pod",
            "CPU used by each zapq pod's containers, in cores (cAdvisor).",
            CORES,
            [
                query(
                    f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{CONTAINERS}}}"
                    f"[{RATE}]))",
                    "{{pod}}",
                )
            ],
        ),
        graph(
            "Memory per pod",
            "Working set of each zapq pod's containers (cAdvisor): what the OOM killer judges.",
            BYTES,
            [
                query(
                    f"sum by (pod) (container_memory_working_set_bytes{{{CONTAINERS}}})",
                    "{{pod}}",
                )
            ],
        ),
        graph(
            "Process CPU",
            "CPU of each zapq process, in cores, from its own /metrics.",
            CORES,
            [
                query(
                    f"sum by (pod) (rate(process_cpu_seconds_total{{{SEL}}}[{RATE}]))",
                    "{{pod}}",
                )
            ],
        ),
        graph(
            "Process resident memory",
            "Resident memory of each zapq process, from its own /metrics.",
            BYTES,
            [query(f"sum by (pod) (process_resident_memory_bytes{{{SEL}}})", "{{pod}}")],
        ),
    ]
