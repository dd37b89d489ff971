"""The chart's alert rules (helm/zapq/rules/alerts.yaml): promtool checks them and runs their unit
tests (alerts_test.yaml), every alert carries what an on-call needs, and every selector is scoped
to one release the way the dashboards are."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool
from tests.observability.catalogue import ROOT, alert_expressions
from tests.observability.test_dashboards import substitute

RULES_DIR = ROOT / "helm" / "zapq" / "rules"
RULES = RULES_DIR / "alerts.yaml"
UNIT_TESTS = RULES_DIR / "alerts_test.yaml"
RUNBOOKS = ROOT / "docs" / "alerts.md"
RUNBOOK_URL = "https://github.com/zapq/zapq/blob/main/docs/alerts.md#"
# What the chart's PrometheusRule template puts in place of the placeholders; the unit tests'
# synthetic series use these values.
PLACEHOLDERS = {"$namespace": "zapq", "$release": "zapq"}
# Prometheus's own template variables, left alone by the substitution.
TEMPLATE_VARIABLES = {"$value", "$labels"}
SEVERITIES = {"warning", "critical"}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    """alerts.yaml as the chart renders it, beside the unit tests (which load
    alerts.rendered.yaml from their own directory)."""
    require_tool(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")
    (tmp_path / "alerts.rendered.yaml").write_text(substitute(RULES.read_text(), PLACEHOLDERS))
    (tmp_path / UNIT_TESTS.name).write_text(substitute(UNIT_TESTS.read_text(), PLACEHOLDERS))
    return tmp_path


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=90, check=False
    )


def test_promtool_checks_the_rules(rendered: Path) -> None:
    result = promtool("check", "rules", "alerts.rendered.yaml", cwd=rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout, result.stdout


def test_promtool_unit_tests_pass(rendered: Path) -> None:
    result = promtool("test", "rules", UNIT_TESTS.name, cwd=rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    fires: dict[str, list[dict[str, Any]]] = defaultdict(list)
    quiet: set[str] = set()
    for case in yaml.safe_load(UNIT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            if check["exp_alerts"]:
                fires[check["alertname"]] += check["exp_alerts"]
            else:
                quiet.add(check["alertname"])
    assert set(fires) == set(alerts()), "alerts without a firing case (or tests of no alert)"
    assert quiet == set(alerts()), "alerts without a case that must not fire"
    for name, expected in fires.items():
        # promtool compares annotations whenever an alert is expected: all of them, every time.
        assert all(alert.get("exp_annotations") for alert in expected), name
        assert any(alert["exp_labels"].get("severity") for alert in expected), name


def test_every_alert_has_severity_annotations_a_hold_and_release_labels() -> None:
    for name, rule in alerts().items():
        assert re.fullmatch(r"Zapq[A-Z][A-Za-z]+", name), name
        assert re.fullmatch(r"\d+[mh]", str(rule.get("for", ""))), f"{name}: no `for`"
        labels = rule["labels"]
        assert labels["severity"] in SEVERITIES, name
        # Most expressions aggregate these away; they keep two releases' alerts apart.
        assert labels["namespace"] == "$namespace", name
        assert labels["release"] == "$release", name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        if "absent(" not in rule["expr"]:  # absent() is 1 or nothing: no value to tell
            assert "{{ $value" in annotations["description"], f"{name}: no $value"
        assert annotations["runbook_url"] == RUNBOOK_URL + name.lower(), name


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens (enough for this page: no duplicate headings)."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_runbook_anchor_exists_and_every_section_has_an_alert() -> None:
    text = RUNBOOKS.read_text()
    anchors = github_anchors(text)
    for name, rule in alerts().items():
        anchor = rule["annotations"]["runbook_url"].removeprefix(RUNBOOK_URL)
        assert anchor in anchors, f"{name}: no section #{anchor} in {RUNBOOKS.name}"
    sections = set(re.findall(r"^## (Zapq\w+)$", text, re.MULTILINE))
    assert sections == set(alerts())


def test_every_selector_filters_namespace_and_release() -> None:
    for expression in alert_expressions():
        for series in expression.series:
            for start in [m.start() for m in re.finditer(rf"\b{series}\{{", expression.expr)]:
                matchers = expression.expr[start:].split("}", 1)[0]
                assert 'namespace="$namespace"' in matchers, (expression.where, series)
                if series.startswith("kube_"):
                    # kube-state-metrics series name the object, not a zapq pod.
                    assert "$release-worker" in matchers, (expression.where, series)
                else:
                    assert 'pod=~"$release-' in matchers, (expression.where, series)


def test_placeholders_are_the_only_dollar_words() -> None:
    """The chart replaces $namespace and $release literally: a typo ($releases) would become a
    wrong name rather than an error."""
    words = set(re.findall(r"\$\w+", RULES.read_text()))
    assert words <= set(PLACEHOLDERS) | TEMPLATE_VARIABLES, words
