"""The chart rendered by the real Helm engine: lint, Kubernetes schemas, and what must hold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.chart.render import (
    CHART,
    CI_VALUES,
    CRD_KINDS,
    KUBE_VERSIONS,
    NAMESPACE,
    RELEASE,
    ROOT,
    WORKLOADS,
    by_kind,
    ci_values,
    objects,
    pod_labels,
    pod_spec,
    render_templates,
    rendered,
    secret_refs,
)
from tests.observability.test_dashboards import substitute

CI_NAMES = [path.name.removesuffix("-values.yaml") for path in CI_VALUES]


def test_every_supported_combination_has_a_ci_values_file() -> None:
    assert set(CI_NAMES) >= {
        "defaults",
        "keda",
        "external-redis",
        "bundled-redis",
        "ingress",
        "monitoring",
    }


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == ">=1.27.0-0"
    assert chart["appVersion"] and chart["version"]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", CI_NAMES)
def test_lint_strict_finds_nothing(name: str, kube_version: str) -> None:
    report = helm_python.lint(
        CHART, ci_values(name), strict=True, namespace=NAMESPACE, kube_version=f"v{kube_version}"
    )
    assert report["errors"] == []
    assert report["messages"] == []


def test_lint_is_not_blind(tmp_path: Path) -> None:
    """A copy of the chart with a broken template: the same lint call reports it."""
    copy = tmp_path / "zapq"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "broken.yaml").write_text("kind: ConfigMap\nmetadata: [unclosed\n")
    report = helm_python.lint(copy, ci_values("defaults"), strict=True, namespace=NAMESPACE)
    assert any("broken.yaml" in m["path"] for m in report["messages"]), report


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"worker": {"terminationGracePeriodSeconds": 25}}, "killed mid-drain"),
        ({"redis": {"mode": "external"}}, "set redis.external.url"),
        ({"scheduler": {"enabled": True, "source": "sql"}}, "secrets.scheduleDatabaseUrl"),
        ({"scheduler": {"enabled": True}}, "set scheduler.sourceUrl"),
    ],
)
def test_bad_values_fail_the_render_with_a_clear_message(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmError, match=message):
        render_templates(values)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", CI_NAMES)
def test_objects_validate_against_the_kubernetes_schemas(name: str, kube_version: str) -> None:
    checked = 0
    for obj in rendered(name):
        if obj["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(obj, kube_version, strict=True)
        checked += 1
    assert checked >= 10


def workloads(name: str) -> list[dict[str, Any]]:
    return [o for o in rendered(name) if o["kind"] in WORKLOADS]


# -- autoscaling -----------------------------------------------------------------------------


def test_worker_hpa_is_the_reference_design() -> None:
    hpa = by_kind(rendered("defaults"), "HorizontalPodAutoscaler")["zapq-worker"]
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 20)
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "zapq-worker",
    }
    metrics = {m.get("resource", {}).get("name", m["type"]): m for m in spec["metrics"]}
    assert metrics["cpu"]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert metrics["memory"]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 80,
    }
    external = metrics["External"]["external"]
    assert external["metric"]["name"] == "zapq_queue_ready_messages"
    # 50 msg/s per pod x 60 s of backlog.
    assert external["target"] == {"type": "AverageValue", "averageValue": "3000"}
    # Up: double (or +4) every 15 s sync, 2 -> 20 within 60 s; down: gently, after 5 minutes.
    assert spec["behavior"] == {
        "scaleUp": scaling(window=0, percent=100, pods=4, period=15),
        "scaleDown": scaling(window=300, percent=10, pods=1, period=60),
    }


def scaling(window: int, percent: int, pods: int, period: int) -> dict[str, Any]:
    """One direction of an HPA behavior: the larger of percent or pods per period."""
    return {
        "stabilizationWindowSeconds": window,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Percent", "value": percent, "periodSeconds": period},
            {"type": "Pods", "value": pods, "periodSeconds": period},
        ],
    }


def test_the_backlog_target_follows_the_rate_limit() -> None:
    values = {"worker": {"ratePerSecond": 20, "autoscaling": {"queue": {"backlogSeconds": 30}}}}
    hpa = by_kind(objects(values), "HorizontalPodAutoscaler")["zapq-worker"]
    external = next(m for m in hpa["spec"]["metrics"] if m["type"] == "External")
    assert external["external"]["target"]["averageValue"] == "600"


def test_api_hpa_on_cpu() -> None:
    spec = by_kind(rendered("defaults"), "HorizontalPodAutoscaler")["zapq-api"]["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]


def test_keda_replaces_the_worker_hpa_with_the_same_bounds_and_triggers() -> None:
    objs = rendered("keda")
    assert "zapq-worker" not in by_kind(objs, "HorizontalPodAutoscaler")
    scaled = by_kind(objs, "ScaledObject")["zapq-worker"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 20)
    assert scaled["scaleTargetRef"]["name"] == "zapq-worker"
    triggers = {t["type"]: t for t in scaled["triggers"]}
    assert triggers["cpu"]["metadata"]["value"] == "70"
    assert triggers["memory"]["metadata"]["value"] == "80"
    queue = triggers["prometheus"]
    assert queue["metricType"] == "AverageValue"
    assert queue["metadata"]["threshold"] == "3000"
    assert queue["metadata"]["query"] == (
        'sum(max by (priority) (zapq_queue_ready_messages{namespace="zapq", pod=~"zapq-.+"}))'
    )
    hpa = by_kind(rendered("defaults"), "HorizontalPodAutoscaler")["zapq-worker"]
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior == hpa["spec"]["behavior"]


@pytest.mark.parametrize("name", CI_NAMES)
def test_no_replicas_where_an_autoscaler_owns_the_deployment(name: str) -> None:
    objs = rendered(name)
    owned = {
        h["spec"]["scaleTargetRef"]["name"]
        for h in by_kind(objs, "HorizontalPodAutoscaler").values()
    }
    owned |= {s["spec"]["scaleTargetRef"]["name"] for s in by_kind(objs, "ScaledObject").values()}
    assert owned == {"zapq-api", "zapq-worker"}
    for deployment in by_kind(objs, "Deployment").values():
        if deployment["metadata"]["name"] == "zapq-operator":  # one replica, always
            assert deployment["spec"]["replicas"] == 1
            assert deployment["spec"]["strategy"] == {"type": "Recreate"}
            continue
        assert "replicas" not in deployment["spec"], deployment["metadata"]["name"]


def test_fixed_replicas_without_an_autoscaler() -> None:
    values = {
        "api": {"autoscaling": {"enabled": False}},
        "worker": {"autoscaling": {"mode": "none"}},
    }
    objs = objects(values)
    assert by_kind(objs, "HorizontalPodAutoscaler") == {}
    assert {n: d["spec"]["replicas"] for n, d in by_kind(objs, "Deployment").items()} == {
        "zapq-api": 2,
        "zapq-worker": 2,
    }


# -- pods ------------------------------------------------------------------------------------


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("name", CI_NAMES)
def test_every_container_is_locked_down_and_sized(name: str) -> None:
    for obj in workloads(name):
        spec = pod_spec(obj)
        where = obj["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in containers(obj):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["runAsUser"] >= 10000, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, (where, kind)


@pytest.mark.parametrize("name", CI_NAMES)
def test_long_running_containers_have_probes(name: str) -> None:
    for obj in workloads(name):
        if obj["kind"] == "CronJob":
            continue  # a run that ends by itself: its exit code is its health
        for container in containers(obj):
            assert container.get("livenessProbe"), obj["metadata"]["name"]
            assert container.get("readinessProbe"), obj["metadata"]["name"]


def test_probes_use_each_role_s_own_health_endpoints() -> None:
    deployments = by_kind(rendered("defaults"), "Deployment")
    worker = deployments["zapq-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert [p["name"] for p in worker["ports"]] == ["metrics"]
    api = deployments["zapq-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def config_data(objs: list[dict[str, Any]]) -> dict[str, str]:
    return dict(by_kind(objs, "ConfigMap")["zapq"]["data"])


def test_worker_grace_period_exceeds_its_drain_time() -> None:
    objs = rendered("defaults")
    worker = by_kind(objs, "Deployment")["zapq-worker"]
    drain = int(config_data(objs)["ZAPQ_WORKER__DRAIN_TIMEOUT_SECONDS"])
    assert pod_spec(worker)["terminationGracePeriodSeconds"] > drain


def test_roles_run_their_zapq_command_with_config_and_secrets() -> None:
    objs = rendered("bundled-redis")
    roles = {o["metadata"]["name"]: containers(o)[0] for o in objs if o["kind"] in WORKLOADS}
    assert roles["zapq-api"]["args"] == ["api"]
    assert roles["zapq-worker"]["args"] == ["worker"]
    assert roles["zapq-scheduler"]["args"] == ["schedule"]
    for role in ("zapq-api", "zapq-worker", "zapq-scheduler"):
        container = roles[role]
        assert container["envFrom"] == [{"configMapRef": {"name": "zapq"}}]
        secret_env = {
            e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
        }
        assert {"ZAPQ_REDIS_URL"} <= set(secret_env)
        assert {ref["name"] for ref in secret_env.values()} == {"zapq"}
    # Each role gets only the secrets it uses: the internet-facing API never the Evolution key.
    names = {
        role: {e["name"] for e in roles[role]["env"] if "valueFrom" in e}
        for role in ("zapq-api", "zapq-worker", "zapq-scheduler")
    }
    assert names["zapq-api"] == {
        "ZAPQ_REDIS_URL",
        "ZAPQ_API_KEYS",
        "ZAPQ_API__KEYS",
        "ZAPQ_EVOLUTION__WEBHOOK_TOKEN",
    }
    assert names["zapq-worker"] == {
        "ZAPQ_REDIS_URL",
        "ZAPQ_EVOLUTION__API_KEY",
        "ZAPQ_SENDERS",
        "ZAPQ_CALLBACKS__SIGNING_SECRET",
    }
    assert "ZAPQ_EVOLUTION__API_KEY" not in names["zapq-scheduler"]
    assert "ZAPQ_API_KEYS" not in names["zapq-scheduler"]


@pytest.mark.parametrize("name", ["defaults", "bundled-redis"])
def test_every_secret_key_a_pod_reads_exists(name: str) -> None:
    objs = rendered(name)
    secret = by_kind(objs, "Secret")["zapq"]
    available = {("zapq", key) for key in secret["stringData"]}
    for obj in workloads(name):
        assert secret_refs(obj) <= available, obj["metadata"]["name"]


def test_bundled_redis_url_carries_the_password_and_the_service() -> None:
    objs = rendered("bundled-redis")
    data = by_kind(objs, "Secret")["zapq"]["stringData"]
    assert data["redis-password"] == "ci-redis-password"
    assert data["redis-url"] == "redis://:ci-redis-password@zapq-redis:6379/0"
    assert "zapq-redis" in by_kind(objs, "Service")


def test_a_generated_redis_password_is_long_and_random() -> None:
    first = by_kind(objects({}), "Secret")["zapq"]["stringData"]["redis-password"]
    second = by_kind(objects({}), "Secret")["zapq"]["stringData"]["redis-password"]
    assert len(first) == 32
    assert first != second


def test_an_existing_secret_replaces_the_chart_s_secret() -> None:
    objs = rendered("external-redis")
    assert by_kind(objs, "Secret") == {}
    assert "zapq-redis" not in by_kind(objs, "StatefulSet")
    for obj in workloads("external-redis"):
        assert {name for name, _ in secret_refs(obj)} == {"zapq-secrets"}


def test_a_config_change_rolls_the_pods() -> None:
    def checksums(values: dict[str, Any]) -> dict[str, str]:
        deployments = by_kind(objects(values), "Deployment")
        return {
            name: d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for name, d in deployments.items()
        }

    base = {"redis": {"bundled": {"password": "fixed"}}}
    before = checksums(base)
    assert before == checksums(base)
    after = checksums({**base, "config": {"logLevel": "DEBUG"}})
    assert all(after[name] != before[name] for name in before)


def test_bundled_redis_is_durable_and_never_evicts() -> None:
    objs = rendered("bundled-redis")
    conf = by_kind(objs, "ConfigMap")["zapq-redis"]["data"]["redis.conf"]
    lines = {line.strip() for line in conf.splitlines() if not line.lstrip().startswith("#")}
    assert {
        "appendonly yes",
        "appendfsync everysec",
        "maxmemory-policy noeviction",
        "maxmemory 1536mb",
        "hash-max-listpack-value 1024",
    } <= lines
    redis = by_kind(objs, "StatefulSet")["zapq-redis"]
    assert redis["spec"]["replicas"] == 1
    claim = redis["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "8Gi"
    assert claim["storageClassName"] == "fast-ssd"
    server = containers(redis)[0]
    assert "--requirepass" in server["args"][0]
    assert {"name": "data", "mountPath": "/data"} in server["volumeMounts"]


def test_scheduler_cronjob() -> None:
    objs = rendered("external-redis")
    cron = by_kind(objs, "CronJob")["zapq-scheduler"]["spec"]
    assert cron["schedule"] == "0 9 * * *"
    assert cron["timeZone"] == "America/Sao_Paulo"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] > 0
    assert cron["successfulJobsHistoryLimit"] >= 1 and cron["failedJobsHistoryLimit"] >= 1
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    rules = by_kind(objs, "ConfigMap")["zapq-scheduler-rules"]["data"]["rules.yaml"]
    assert rules.strip() == (ROOT / "examples" / "rules.yaml").read_text().strip()
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "rules")
    assert config_data(objs)["ZAPQ_SCHEDULE__RULES_FILE"] == f"{mount['mountPath']}/rules.yaml"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in pod["containers"][0]["env"]}
    assert env["ZAPQ_SCHEDULE__SOURCE_TOKEN"]["key"] == "schedule-source-token"
    assert env["ZAPQ_SCHEDULE__DATABASE_URL"]["key"] == "schedule-database-url"


def test_scheduler_rules_from_values() -> None:
    rules = "rules:\n  - name: only_today\n    offset_days: 0\n"
    values = {"scheduler": {"enabled": True, "sourceUrl": "https://b.example", "rules": rules}}
    data = by_kind(objects(values), "ConfigMap")["zapq-scheduler-rules"]["data"]
    assert data["rules.yaml"].strip() == rules.strip()


def test_the_chart_ships_the_examples_rules_file() -> None:
    shipped = (CHART / "files" / "rules.yaml").read_text()
    assert shipped == (ROOT / "examples" / "rules.yaml").read_text()


# -- selectors and network -------------------------------------------------------------------


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def workload_labels(objs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: pod_labels(o) for o in objs if o["kind"] in WORKLOADS}


@pytest.mark.parametrize("name", CI_NAMES)
def test_selectors_match_pods_and_never_use_the_chart_version(name: str) -> None:
    objs = rendered(name)
    pods = workload_labels(objs)
    selectors = []
    for obj in objs:
        spec = obj.get("spec", {})
        if obj["kind"] in {"Deployment", "StatefulSet", "PodDisruptionBudget"}:
            selectors.append((obj, spec["selector"]["matchLabels"]))
        if obj["kind"] == "Service":
            selectors.append((obj, spec["selector"]))
        if obj["kind"] == "NetworkPolicy":
            selectors.append((obj, spec["podSelector"]["matchLabels"]))
    for obj, selector in selectors:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert "helm.sh/chart" not in selector, where
        assert "app.kubernetes.io/component" in selector, where
        hits = [pod for pod, labels in pods.items() if matches(selector, labels)]
        assert len(hits) == 1, (where, hits)


@pytest.mark.parametrize("name", CI_NAMES)
def test_every_workload_has_a_network_policy(name: str) -> None:
    objs = rendered(name)
    policies = by_kind(objs, "NetworkPolicy").values()
    for pod, labels in workload_labels(objs).items():
        covering = [p for p in policies if matches(p["spec"]["podSelector"]["matchLabels"], labels)]
        assert len(covering) == 1, pod
        assert covering[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def egress_ports(policy: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}


def test_workers_reach_only_redis_evolution_and_dns() -> None:
    objs = rendered("defaults")
    policy = by_kind(objs, "NetworkPolicy")["zapq-worker"]
    assert egress_ports(policy) == {
        (53, "UDP"),
        (53, "TCP"),
        (6379, "TCP"),
        (8080, "TCP"),
        (443, "TCP"),
    }
    redis_rule = next(r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 6379)
    redis_pod = workload_labels(objs)["zapq-redis"]
    assert matches(redis_rule["to"][0]["podSelector"]["matchLabels"], redis_pod)
    [ingress] = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_only_zapq_pods_reach_the_bundled_redis() -> None:
    objs = rendered("bundled-redis")
    policy = by_kind(objs, "NetworkPolicy")["zapq-redis"]
    [rule] = policy["spec"]["ingress"]
    allowed = {
        pod
        for peer in rule["from"]
        for pod, labels in workload_labels(objs).items()
        if matches(peer["podSelector"]["matchLabels"], labels)
    }
    assert allowed == {"zapq-api", "zapq-worker", "zapq-scheduler"}
    assert policy["spec"].get("egress") is None  # Egress in policyTypes: nothing leaves Redis


def test_external_redis_egress_uses_the_configured_peer() -> None:
    policy = by_kind(rendered("external-redis"), "NetworkPolicy")["zapq-worker"]
    rule = next(r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 6380)
    assert rule["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


def test_api_ingress_restricted_to_the_ingress_controller_and_prometheus() -> None:
    objs = rendered("ingress")
    policy = by_kind(objs, "NetworkPolicy")["zapq-api"]
    namespaces = [
        rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in policy["spec"]["ingress"]
    ]
    assert namespaces == ["ingress-nginx", "monitoring"]
    ingress = by_kind(objs, "Ingress")["zapq-api"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = by_kind(objs, "Service")[backend["name"]]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert ingress["spec"]["tls"][0]["secretName"] == "zapq-tls"


@pytest.mark.parametrize("name", CI_NAMES)
def test_disruption_budgets_for_api_and_workers(name: str) -> None:
    budgets = by_kind(rendered(name), "PodDisruptionBudget")
    assert budgets["zapq-api"]["spec"]["minAvailable"] == 1
    assert budgets["zapq-worker"]["spec"]["maxUnavailable"] == 1


# -- monitoring ------------------------------------------------------------------------------


def test_monitoring_is_off_by_default() -> None:
    kinds = {o["kind"] for o in rendered("defaults")}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert "zapq-dashboards" not in by_kind(rendered("defaults"), "ConfigMap")


def test_service_monitors_scrape_named_ports_of_existing_services() -> None:
    objs = rendered("monitoring")
    services = by_kind(objs, "Service")
    monitors = by_kind(objs, "ServiceMonitor")
    assert set(monitors) == {"zapq-api", "zapq-worker"}
    for monitor in monitors.values():
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        selector = monitor["spec"]["selector"]["matchLabels"]
        [service] = [s for s in services.values() if matches(selector, s["metadata"]["labels"])]
        [endpoint] = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"


def rule_groups(values: dict[str, Any]) -> list[dict[str, Any]]:
    return list(by_kind(objects(values), "PrometheusRule")["zapq"]["spec"]["groups"])


def test_prometheus_rule_is_the_rules_file_for_this_release() -> None:
    rule = by_kind(rendered("monitoring"), "PrometheusRule")["zapq"]
    text = (CHART / "rules" / "alerts.yaml").read_text()
    groups = yaml.safe_load(substitute(text, {"$namespace": NAMESPACE, "$release": RELEASE}))
    groups = groups["groups"]
    # The scheduler is off in ci/monitoring-values.yaml: no schedule alerts.
    assert rule["spec"]["groups"] == [g for g in groups if g["name"] != "zapq-schedule"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    values = {
        **ci_values("monitoring"),
        "scheduler": {"enabled": True, "sourceUrl": "https://billing.example/due"},
    }
    assert rule_groups(values) == groups


def test_dashboards_config_map_for_the_grafana_sidecar() -> None:
    config = by_kind(rendered("monitoring"), "ConfigMap")["zapq-dashboards"]
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config["metadata"]["annotations"]["grafana_folder"] == "zapq"
    committed = {p.name: p.read_text() for p in (CHART / "dashboards").glob("*.json")}
    assert set(config["data"]) == set(committed)
    for name, text in committed.items():
        assert json.loads(config["data"][name]) == json.loads(text), name


def test_the_ingress_exposes_the_api_and_health_only_by_default() -> None:
    def paths(values: dict[str, Any]) -> set[str]:
        api = {"ingress": {"enabled": True, **values}}
        [ingress] = by_kind(objects({"api": api}), "Ingress").values()
        return {p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}

    assert paths({}) == {"/v1", "/healthz", "/readyz"}
    opt_in = paths({"exposeMetrics": True, "exposeDocs": True})
    assert opt_in == {"/v1", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"}
