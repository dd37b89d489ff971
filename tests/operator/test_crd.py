"""The WhatsAppInstance CRD: a valid CustomResourceDefinition on the oldest and newest supported
Kubernetes, a structural schema, examples that pass it, broken resources refused (by the schema,
and by its CEL rules, run with cel-python), and the operator's models agreeing with it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from service.operator.resource import GROUP, KIND, PLURAL, VERSION, InstanceSpec
from service.settings import SenderOptions
from tests.chart.render import CHART, KUBE_VERSIONS, ROOT

CRD = yaml.safe_load((CHART / "crds" / "whatsappinstances.zapq.io.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
EXAMPLES = sorted((ROOT / "examples").glob("whatsappinstance-*.yaml"))
BAILEYS = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": KIND,
    "metadata": {"name": "sales", "namespace": "billing"},
    "spec": {"evolution": {"url": "http://evolution:8080"}, "ratePerSecond": 1},
}


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_the_crd_is_a_valid_object(kube_version: str) -> None:
    kubernetes_validate.validate(CRD, kube_version, strict=True)
    assert CRD["metadata"]["name"] == f"{PLURAL}.{GROUP}"
    version = CRD["spec"]["versions"][0]
    assert (version["name"], version["subresources"]) == (VERSION, {"status": {}})
    assert CRD["spec"]["names"]["shortNames"] == ["wai"]
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Phase", "Number", "Rate", "Today", "Age"]


def structural_problems(node: dict[str, Any], where: str = "") -> list[str]:
    """Kubernetes' structural schema rules: a type everywhere, no additionalProperties next to
    properties (nor false: unknown fields are pruned, and kubectl's strict validation refuses
    them), no $ref, metadata restricted only in name and generateName."""
    problems = []
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        problems.append(f"{where or '/'}: no type")
    if "$ref" in node or node.get("additionalProperties") is False:
        problems.append(f"{where}: $ref or additionalProperties false")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{where}: properties and additionalProperties")
    for key, child in (node.get("properties") or {}).items():
        restricted = set(child.get("properties") or {}) - {"name", "generateName"}
        if (
            where == ""
            and key == "metadata"
            and (set(child) - {"type", "properties"} or restricted)
        ):
            problems.append("metadata: only name and generateName may be restricted")
        problems += structural_problems(child, f"{where}/{key}")
    if isinstance(node.get("items"), dict):
        problems += structural_problems(node["items"], f"{where}[]")
    return problems


def test_the_schema_is_structural() -> None:
    assert structural_problems(SCHEMA) == []


def strict(node: dict[str, Any]) -> dict[str, Any]:
    """The schema as kubectl's strict field validation applies it: unknown fields refused."""
    node = copy.deepcopy(node)
    if "properties" in node:
        node["additionalProperties"] = False
        for key, child in node["properties"].items():
            node["properties"][key] = strict(child)
    if isinstance(node.get("items"), dict):
        node["items"] = strict(node["items"])
    node.pop("x-kubernetes-validations", None)
    return node


def strict_resource() -> dict[str, Any]:
    """strict() of the whole resource but its metadata (ObjectMeta: the API server's own)."""
    schema = strict(SCHEMA)
    schema["properties"]["metadata"] = SCHEMA["properties"]["metadata"]
    return schema


# OpenAPI v3.0 (boolean exclusiveMinimum) is JSON Schema draft 4's dialect.
VALIDATOR = jsonschema.Draft4Validator(strict_resource())


def test_a_name_too_long_for_a_sender_is_refused() -> None:
    long_name = copy.deepcopy(BAILEYS)
    long_name["metadata"]["name"] = "n" * 64
    with pytest.raises(jsonschema.ValidationError, match="is too long"):
        VALIDATOR.validate(long_name)


def test_defaults_are_valid_and_agree_with_the_registry() -> None:
    spec = SCHEMA["properties"]["spec"]["properties"]
    for node in spec.values():
        if "default" in node:
            jsonschema.Draft4Validator(strict(node)).validate(node["default"])
    fields = SenderOptions.model_fields
    assert spec["ratePerSecond"]["default"] == fields["rate_per_second"].default
    assert spec["burst"]["default"] == fields["burst"].default
    assert spec["paused"]["default"] is fields["paused"].default
    camel = {f.alias for f in InstanceSpec.model_fields.values()}
    assert camel == set(spec)  # the operator's model reads exactly the CRD's fields


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_valid(example: Path) -> None:
    for obj in yaml.safe_load_all(example.read_text()):
        if obj["kind"] == KIND:
            VALIDATOR.validate(obj)
            assert rule_failures(defaulted(obj["spec"])) == []
            InstanceSpec.model_validate(obj["spec"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"colour": "blue"}, "Additional properties"),
        ({"ratePerSecond": "10"}, "is not of type 'number'"),
        ({"ratePerSecond": 0}, "less than or equal to the minimum"),
        ({"burst": -1}, "less than the minimum"),
        ({"integration": "SMS"}, "is not one of"),
        ({"evolution": {"url": "evolution:8080"}}, "does not match"),
        ({"instanceName": "no spaces"}, "does not match"),
        ({"pairingNumber": "+55 11"}, "does not match"),
    ],
)
def test_broken_resources_are_refused(change: dict[str, Any], words: str) -> None:
    broken = copy.deepcopy(BAILEYS)
    broken["spec"].update(change)
    with pytest.raises(jsonschema.ValidationError, match=words):
        VALIDATOR.validate(broken)
    with pytest.raises(ValidationError):
        InstanceSpec.model_validate(broken["spec"])


def rules(node: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found = [(path, r["rule"]) for r in node.get("x-kubernetes-validations", [])]
    for key, child in (node.get("properties") or {}).items():
        found += rules(child, (*path, key))
    return found


SPEC_RULES = rules(SCHEMA["properties"]["spec"])
CEL = celpy.Environment()


def rule_failures(spec: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """The CEL rules the API server would run on ``spec`` (a create, or an update from ``old``):
    the rules that fail. Transition rules (oldSelf) run on updates only, as in Kubernetes."""
    failed = []
    for path, rule in SPEC_RULES:
        this, before = _at(spec, path), _at(old, path) if old is not None else None
        if this is None or ("oldSelf" in rule and before is None):
            continue
        scope = {"self": celpy.json_to_cel(this)}
        if before is not None:
            scope["oldSelf"] = celpy.json_to_cel(before)
        if not CEL.program(CEL.compile(rule)).evaluate(scope):
            failed.append(rule)
    return failed


def _at(doc: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def defaulted(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the CRD's top-level defaults, as the API server applies them before it
    runs the rules."""
    fields = SCHEMA["properties"]["spec"]["properties"]
    return {key: node["default"] for key, node in fields.items() if "default" in node} | spec


def test_cel_rules_refuse_what_the_schema_cannot_express() -> None:
    good = defaulted(BAILEYS["spec"])
    assert rule_failures(good) == []
    both = {**good, "evolution": {"url": "http://e", "service": {"name": "evolution"}}}
    assert rule_failures(both) != []
    neither = {**good, "evolution": {}}
    assert rule_failures(neither) != []
    business = {**good, "integration": "WHATSAPP-BUSINESS"}
    assert rule_failures(business) != []  # business settings missing


@pytest.mark.parametrize(
    "change",
    [
        {"instanceName": "other"},
        {"evolution": {"url": "http://elsewhere:8080"}},
        {"evolution": {"service": {"name": "evolution"}}},
        {"integration": "WHATSAPP-BUSINESS"},
    ],
)
def test_cel_rules_keep_the_instance_fields_immutable(change: dict[str, Any]) -> None:
    old = defaulted({**BAILEYS["spec"], "instanceName": "sales"})
    assert rule_failures({**old, "ratePerSecond": 20, "paused": True}, old) == []
    assert rule_failures({**old, **change}, old) != []
