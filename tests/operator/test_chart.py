"""The chart's operator: off by default; when on, one Recreate replica with its own account, a
Role without wildcards that names the Secrets it may touch, no ingress. (Kubernetes schema
validation, lint and checkov run on ci/operator-values.yaml with every other ci file in
tests/chart.)"""

from __future__ import annotations

from typing import Any

import helm_python
import pytest

from tests.chart.render import by_kind, ci_values, objects, render_templates, rendered

OPERATOR = "zapq-operator"


def operator_objects(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    objs = rendered("operator") if values is None else objects(values)
    return [o for o in objs if o["metadata"]["name"] == OPERATOR]


def test_off_by_default() -> None:
    assert [o for o in rendered("defaults") if "operator" in o["metadata"]["name"]] == []
    assert by_kind(rendered("defaults"), "Role") == {}


def test_one_recreate_replica_with_its_own_account_and_token() -> None:
    kinds = {o["kind"] for o in operator_objects()}
    assert kinds == {"Deployment", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"}
    deployment = by_kind(operator_objects(), "Deployment")[OPERATOR]
    spec = deployment["spec"]["template"]["spec"]
    assert (deployment["spec"]["replicas"], deployment["spec"]["strategy"]) == (
        1,
        {"type": "Recreate"},
    )
    assert spec["serviceAccountName"] == OPERATOR
    [container] = spec["containers"]
    assert container["args"] == ["operator"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["kube-api-access"]["readOnly"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["ZAPQ_OPERATOR__WEBHOOK_URL"]["value"] == (
        "http://zapq-api.zapq.svc:8000/v1/webhooks/evolution"
    )
    assert env["ZAPQ_OPERATOR__NAMESPACES"]["value"] == "zapq"
    assert env["ZAPQ_EVOLUTION__WEBHOOK_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "zapq-webhook",
        "key": "evolution-webhook-token",
    }
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_the_role_has_no_wildcards_and_names_its_secrets() -> None:
    [role] = by_kind(operator_objects(), "Role").values()
    assert not any(o["kind"].startswith("Cluster") for o in rendered("operator"))
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
    secrets = [r for r in role["rules"] if r["resources"] == ["secrets"]]
    by_verbs = {tuple(r["verbs"]): r.get("resourceNames") for r in secrets}
    assert by_verbs == {
        ("create",): None,
        ("patch",): ["zapq-whatsapp-qrcodes"],
        ("get",): ["evolution-api-key", "meta-cloud-api"],
    }
    values = ci_values("operator")
    values["operator"]["readSecrets"] = []
    [role] = by_kind(operator_objects(values), "Role").values()
    assert all("get" not in r["verbs"] for r in role["rules"])


def test_no_ingress_and_egress_to_the_api_server() -> None:
    [policy] = by_kind(operator_objects(), "NetworkPolicy").values()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"]
    peers = [rule.get("to") for rule in policy["spec"]["egress"]]
    assert [{"ipBlock": {"cidr": "10.0.0.1/32"}}] in peers


def test_the_webhook_token_is_required() -> None:
    values = ci_values("operator")
    values["operator"]["webhookTokenSecretRef"] = {"name": ""}
    with pytest.raises(helm_python.HelmError, match=r"webhookTokenSecretRef\.name"):
        render_templates(values)
