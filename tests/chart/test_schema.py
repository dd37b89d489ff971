"""values.schema.json and the chart README's values table against values.yaml.

The schema is checked by Helm's own validator (helm-python-sdk), on the values Helm would validate:
the chart's defaults with the user's file merged over them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import pytest
import yaml

from scripts import chart_docs
from tests.chart.render import CHART, CI_VALUES, NAMESPACE, RELEASE

VALUES_TEXT = (CHART / "values.yaml").read_text()
DEFAULTS: dict[str, Any] = yaml.safe_load(VALUES_TEXT)
DOCS: dict[str, str] = chart_docs.parse_descriptions(VALUES_TEXT)
SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())


def value_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key of values.yaml down to the documented ones (whose insides are free-form)."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if path not in DOCS and isinstance(value, dict):
            paths += value_paths(value, f"{path}.")
    return paths


def schema_paths(schema: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, node in schema.get("properties", {}).items():
        paths += [f"{prefix}{key}", *schema_paths(node, f"{prefix}{key}.")]
    return paths


def lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def validate(values: dict[str, Any]) -> None:
    """values over the chart's defaults, coalesced by Helm as for an install, then the schema."""
    chart = helm_python.Chart.load(CHART)
    chart.validate_schema(chart.merge_values(values))


def test_readme_values_table_and_schema_descriptions_are_up_to_date() -> None:
    assert chart_docs.check() == [], "run: .venv/bin/python scripts/chart_docs.py"


def test_check_reports_a_changed_comment(tmp_path: Path) -> None:
    for name in ("values.yaml", "README.md", "values.schema.json"):
        shutil.copy(CHART / name, tmp_path / name)
    changed = VALUES_TEXT.replace("# -- Run the workers.", "# -- Run the worker pods.")
    assert changed != VALUES_TEXT
    (tmp_path / "values.yaml").write_text(changed)
    assert chart_docs.check(tmp_path) == [
        "README.md values table",
        "values.schema.json description of worker.enabled",
    ]


def test_descriptions_continue_on_following_comment_lines_and_skip_documented_insides() -> None:
    text = (
        "# A plain comment is not a description.\n"
        "group:\n"
        "  # -- First line,\n"
        "  # second line.\n"
        "  leaf: 1\n"
        "  # -- A documented map.\n"
        "  map:\n"
        "    inner: 2\n"
    )
    assert chart_docs.parse_descriptions(text) == {
        "group.leaf": "First line, second line.",
        "group.map": "A documented map.",
    }


def test_schema_is_valid_draft_07() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_every_values_key_is_in_the_schema_with_a_type_and_description() -> None:
    for path in value_paths(DEFAULTS):
        node = chart_docs.schema_node(SCHEMA, path)
        assert node is not None, f"{path} is not in values.schema.json"
        assert node.get("type") and node.get("description"), f"{path}: type and description"


def test_every_schema_property_is_in_values_yaml() -> None:
    for path in schema_paths(SCHEMA):
        try:
            lookup(DEFAULTS, path)
        except KeyError:
            pytest.fail(f"values.schema.json has {path}, values.yaml does not")


def test_the_charts_own_objects_refuse_unknown_keys() -> None:
    """Groups (mappings without a `# --` comment) are the chart's own: a typo in them must fail.
    Documented mappings (resources, probes, labels, ...) stay open."""
    assert SCHEMA["additionalProperties"] is False
    for path in value_paths(DEFAULTS):
        node = chart_docs.schema_node(SCHEMA, path)
        is_group = path not in DOCS
        assert (node.get("additionalProperties") is False) == is_group, path


@pytest.mark.parametrize(
    "values_file", [CHART / "values.yaml", *CI_VALUES], ids=lambda path: path.name
)
def test_defaults_and_ci_values_pass(values_file: Path) -> None:
    validate(yaml.safe_load(values_file.read_text()) or {})


BAD_VALUES = [
    ({"worker": {"autoscaling": {"mode": "foo"}}}, "/worker/autoscaling/mode"),
    ({"redis": {"mode": "cluster"}}, "/redis/mode"),
    ({"workers": {"replicas": 3}}, "additional properties 'workers' not allowed"),
    ({"worker": {"autoscaling": {"minReplica": 3}}}, "additional properties 'minReplica'"),
    ({"worker": {"maxJobs": 0}}, "/worker/maxJobs"),
    ({"worker": {"maxJobs": "10"}}, "/worker/maxJobs"),
    ({"worker": {"ratePerSecond": 0}}, "/worker/ratePerSecond"),
    ({"worker": {"replicas": 0}}, "/worker/replicas"),
    ({"worker": {"autoscaling": {"minReplicas": 0}}}, "/worker/autoscaling/minReplicas"),
    ({"worker": {"autoscaling": {"queue": {"backlogSeconds": 0}}}}, "backlogSeconds"),
    (
        {"worker": {"autoscaling": {"behavior": {"scaleDown": {"percent": 150}}}}},
        "/worker/autoscaling/behavior/scaleDown/percent",
    ),
    ({"api": {"port": 70000}}, "/api/port"),
    ({"api": {"autoscaling": {"minReplicas": 0}}}, "/api/autoscaling/minReplicas"),
    ({"networkPolicy": {"externalRedis": {"port": 0}}}, "/networkPolicy/externalRedis/port"),
    ({"config": {"logLevel": "verbose"}}, "/config/logLevel"),
    ({"scheduler": {"source": "ftp"}}, "/scheduler/source"),
    (
        {"api": {"ingress": {"hosts": [{"host": "a", "paths": [{"path": "/", "pathType": "x"}]}]}}},
        "/api/ingress/hosts/0/paths/0/pathType",
    ),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    # The chart joins the keys with commas into one variable.
    ({"secrets": {"apiKeys": ["a,b"]}}, "/secrets/apiKeys/0"),
    # A YAML integer would render as 8.05306368e+08 in redis.conf.
    ({"redis": {"bundled": {"maxmemory": 805306368}}}, "/redis/bundled/maxmemory"),
    # Goes into redis-url unescaped.
    ({"redis": {"bundled": {"password": "p@ss/word"}}}, "/redis/bundled/password"),
    ({"monitoring": {"serviceMonitor": {"interval": "30"}}}, "/monitoring/serviceMonitor/interval"),
]


@pytest.mark.parametrize(("override", "names"), BAD_VALUES, ids=[n for _, n in BAD_VALUES])
def test_bad_values_are_rejected_naming_the_key(override: dict[str, Any], names: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as caught:
        validate(override)
    assert names in str(caught.value)


def test_install_validates_the_schema() -> None:
    """Not only validate_schema: rendering a release refuses bad values before any template."""
    chart = helm_python.Chart.load(CHART)
    with pytest.raises(helm_python.HelmValuesError, match="/worker/autoscaling/mode"):
        chart.render(
            {"worker": {"autoscaling": {"mode": "foo"}}},
            name=RELEASE,
            namespace=NAMESPACE,
            is_install=True,
        )
