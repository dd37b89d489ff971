"""The committed dashboards: regenerated from code without drift, and built to the house rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.dashboards import DASHBOARDS, render_all
from service.dashboards.__main__ import main as dashboards_main
from tests.conftest import require_tool
from tests.observability.catalogue import DASHBOARD_DIR, dashboard_expressions, dashboards, panels

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
FILTER = 'namespace=~"$namespace", pod=~"$release-.+"'
# Values the variables take when an expression is checked outside Grafana.
VARIABLES = {"$__rate_interval": "1m", "$namespace": "zapq", "$release": "zapq", "$sender": "zapq"}
# Variables after $datasource, $namespace and $release, per dashboard.
EXTRA_VARIABLES = {"zapq-sending.json": ["sender"]}


def substitute(expr: str, variables: dict[str, str] = VARIABLES) -> str:
    for name, value in variables.items():
        expr = expr.replace(name, value)
    return expr


def test_committed_json_is_what_the_code_renders() -> None:
    rendered = render_all()
    assert sorted(rendered) == sorted(p.name for p in DASHBOARD_DIR.glob("*.json"))
    for name, text in rendered.items():
        assert (DASHBOARD_DIR / name).read_text() == text, (
            f"{name} is stale: run .venv/bin/python -m service.dashboards"
        )


def test_the_regenerate_command_writes_and_checks(tmp_path: Path) -> None:
    assert dashboards_main(["--check", "--out", str(tmp_path)]) == 1
    assert dashboards_main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(DASHBOARDS)
    assert dashboards_main(["--check", "--out", str(tmp_path)]) == 0


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_has_a_unit_a_description_and_the_datasource_variable(name: str) -> None:
    board = dashboards()[name]
    assert [v["name"] for v in board["templating"]["list"]] == [
        "datasource",
        "namespace",
        "release",
        *EXTRA_VARIABLES.get(name, []),
    ]
    titles = [panel["title"] for panel in panels(board)]
    assert len(titles) == len(set(titles)), "panel titles are unique within a dashboard"
    for panel in panels(board):
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel.get("description"), panel["title"]
        assert not {",", ";"} & set(panel["title"]), "the catalogue lists titles with , and ;"
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE
            assert target["refId"]


# What `zapq schedule` pushes to a Pushgateway carries no zapq namespace or pod: selected by job.
PUSHED = {"zapq_schedule_run_messages", "zapq_schedule_run_charges"}


def test_namespace_and_release_filter_every_selector() -> None:
    for expression in dashboard_expressions():
        for series in expression.series:
            start = expression.expr.index(series + "{")
            matchers = expression.expr[start:].split("}", 1)[0]
            if series in PUSHED:
                assert 'job="zapq-schedule"' in matchers
                continue
            assert 'namespace=~"$namespace"' in matchers, (expression.where, series)
            assert "$release" in matchers, (expression.where, series)


def test_variables_read_a_zapq_series() -> None:
    for board in dashboards().values():
        queries = {v["name"]: v.get("query") for v in board["templating"]["list"]}
        assert queries["namespace"].startswith("label_values(zapq_")
        assert queries["release"].startswith("label_values(zapq_")
        if "sender" in queries:
            assert queries["sender"].startswith("label_values(zapq_sender_")
            assert queries["sender"].endswith(", sender)")


def repeated_rows(board: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Variable -> the panels of the rows Grafana repeats over it (a row's panels are the ones
    that follow it, up to the next row)."""
    found: dict[str, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] | None = None
    for panel in board["panels"]:
        if panel["type"] == "row":
            current = found.setdefault(panel["repeat"], []) if panel.get("repeat") else None
        elif current is not None:
            current.append(panel)
    return found


def test_a_row_per_sender_that_selects_its_sender() -> None:
    board = dashboards()["zapq-sending.json"]
    rows = repeated_rows(board)
    assert set(rows) == {"sender"}
    [variable] = [v for v in board["templating"]["list"] if v["name"] == "sender"]
    assert variable["multi"] and variable["includeAll"], "a row per sender needs All"
    assert variable["current"]["value"] == ["$__all"]
    titles = set()
    for panel in rows["sender"]:
        titles.add(panel["title"])
        for target in panel["targets"]:
            selectors = re.findall(r"(\w+)\{([^}]*)\}", target["expr"])
            assert selectors, panel["title"]
            for series, matchers in selectors:
                assert series.startswith("zapq_sender_"), (panel["title"], series)
                assert 'sender=~"$sender"' in matchers, (panel["title"], series)
    wanted = {"Sends per second vs rate limit", "Refusals by class", "Breaker", "Limiter wait p95"}
    assert wanted | {"Today vs daily limit"} <= titles


def promtool_check(exprs: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """promtool parses every expression as a recording rule: PromQL syntax without a server."""
    rules = [{"record": f"zapq:check:{index}", "expr": e} for index, e in enumerate(exprs)]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )


def test_every_expression_parses(tmp_path: Path) -> None:
    require_tool(shutil.which("promtool") is not None, "promtool (Debian package prometheus)")
    exprs = [substitute(expression.expr) for expression in dashboard_expressions()]
    result = promtool_check(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout
