"""The chart's Role against the calls the operator makes: every call kmock sees from it (kopf's and
its own) is allowed by a rule, and every rule (verb, resource name) is used by some call."""

from __future__ import annotations

import base64
from typing import Any

import kmock
import pytest

from service.operator.kube import USER_AGENT
from tests.chart.render import by_kind, ci_values, objects
from tests.operator.conftest import Start
from tests.operator.harness import NAMESPACE, eventually, instance, path, status, stored
from tests.sim_fixture import SimControl

pytestmark = pytest.mark.slow

Call = tuple[str, str, str, str | None]


def role_rules() -> list[dict[str, Any]]:
    [role] = by_kind(objects(ci_values("operator")), "Role").values()
    return list(role["rules"])


def call_of(request: kmock.Request) -> Call | None:
    """(API group, resource[/subresource], verb, object name) of one API request; None for
    discovery and for the test's own requests."""
    agent = request.headers.get("User-Agent", "")
    if not agent.startswith(("kopf/", USER_AGENT)):
        return None
    resource = request.resource
    if resource is None or not resource.plural:
        return None  # discovery: every authenticated user may (system:discovery)
    plural = resource.plural + (f"/{request.subresource}" if request.subresource else "")
    method = str(request.method.value).upper()
    if method == "GET":
        watch = request.params.get("watch") in ("true", "1")
        verb = "watch" if watch else "get" if request.name else "list"
    else:
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]
    return resource.group or "", plural, verb, request.name


def allows(rule: dict[str, Any], call: Call, verb: str, name: str | None) -> bool:
    group, resource, wanted, called = call
    names = rule.get("resourceNames")
    return (
        group in rule["apiGroups"]
        and resource in rule["resources"]
        and wanted == verb
        and verb in rule["verbs"]
        and (not names or (called == name and called in names))
    )


def secret(name: str, key: str, value: str) -> dict[str, Any]:
    data = {key: base64.b64encode(value.encode()).decode()}
    return {"metadata": {"name": name, "namespace": NAMESPACE}, "data": data}


async def test_the_role_covers_exactly_the_calls(
    kmock: kmock.KubernetesEmulator, sim: SimControl, start_operator: Start
) -> None:
    kmock.objects["v1/secrets", NAMESPACE, "evolution-api-key"] = secret(
        "evolution-api-key", "apiKey", "evo-key"
    )
    kmock.objects["v1/secrets", NAMESPACE, "meta-cloud-api"] = secret(
        "meta-cloud-api", "accessToken", "EAAG-token"
    )
    sim.configure(connect_delay_seconds=3600)
    await start_operator()
    key = {"name": "evolution-api-key", "key": "apiKey"}
    evolution = {"url": sim.url, "apiKeySecretRef": key}
    business = {
        "phoneNumberId": "123456789012345",
        "businessId": "987654321098765",
        "accessTokenSecretRef": {"name": "meta-cloud-api", "key": "accessToken"},
    }
    await kmock.post(
        path(), json=instance("sales", evolution=evolution, deleteInstanceOnRemoval=True)
    )
    await kmock.post(
        path(),
        json=instance(
            "cloud", evolution=evolution, integration="WHATSAPP-BUSINESS", business=business
        ),
    )
    await eventually(lambda: status(kmock, "sales").get("phase") == "AwaitingQRCode")
    await eventually(lambda: status(kmock, "cloud").get("phase") is not None)
    sim.instance("sales", state="open")
    await eventually(lambda: status(kmock, "sales").get("phase") == "Connected")
    await kmock.patch(path("sales"), json={"spec": {"ratePerSecond": 2}})
    await kmock.delete(path("sales"))
    await eventually(lambda: stored(kmock, "sales") is None, what="deleted")

    calls = {call for request in list(kmock) if (call := call_of(request)) is not None}
    rules = role_rules()
    refused = {c for c in calls if not any(allows(r, c, c[2], c[3]) for r in rules)}
    assert refused == set()
    for rule in rules:
        for verb in rule["verbs"]:
            for name in rule.get("resourceNames") or [None]:
                used = any(allows(rule, c, verb, name or c[3]) for c in calls)
                assert used, f"unused: {verb} {rule['resources']} {name or ''}"
