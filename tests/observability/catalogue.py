"""What the observability tests compare: the catalogue (docs/metrics.md), the committed dashboards,
the chart's alert rules and the metric objects in service/metrics."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "metrics.md"
CHART = ROOT / "helm" / "zapq"
DASHBOARD_DIR = CHART / "dashboards"

# A metric name directly followed by its label matchers: every selector in zapq's expressions
# has matchers, so this finds every series an expression reads (functions are followed by "(").
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")
_ROW = re.compile(r"^\|\s*`([a-z_:]+)`\s*\|(.*)\|\s*$")


@dataclass(frozen=True)
class Entry:
    name: str
    cells: list[str]

    @property
    def used_by(self) -> set[tuple[str, str]]:
        """{(dashboard, panel title)} and {("alert", name)} from the last cell."""
        found = set()
        for part in filter(None, (p.strip() for p in self.cells[-1].split(";"))):
            board, _, titles = part.partition(":")
            found |= {(board.strip(), title.strip()) for title in titles.split(",")}
        return found


@dataclass(frozen=True)
class Expression:
    where: tuple[str, str]  # (dashboard title suffix, panel title) or ("alert", name)
    expr: str

    @property
    def series(self) -> set[str]:
        return set(_SELECTOR.findall(self.expr))


def catalogue() -> dict[str, Entry]:
    """Rows of the metric tables (between "## Catalogue" and "## Dashboards"): name -> cells."""
    text = CATALOGUE.read_text()
    section = text[text.index("\n## Catalogue") : text.index("\n## Dashboards")]
    entries = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            cells = [cell.strip() for cell in match.group(2).split("|")]
            entries[match.group(1)] = Entry(match.group(1), cells)
    return entries


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def dashboard_expressions() -> list[Expression]:
    found = []
    for board in dashboards().values():
        short = board["title"].removeprefix("zapq / ")
        for panel in panels(board):
            found += [Expression((short, panel["title"]), t["expr"]) for t in panel["targets"]]
    return found


def alert_expressions() -> list[Expression]:
    """Every alert rule's expr from the chart's rule files (YAML with `groups:`)."""
    found = []
    for path in sorted(CHART.rglob("*.yaml")):
        if "templates" in path.parts:
            continue
        document = yaml.safe_load(path.read_text())
        if not isinstance(document, dict) or "groups" not in document:
            continue
        for group in document["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.append(Expression(("alert", rule["alert"]), str(rule["expr"])))
    return found


def base_name(series: str, histograms: set[str]) -> str:
    """zapq_x_bucket -> zapq_x for a histogram; anything else unchanged."""
    for suffix in ("_bucket", "_sum", "_count"):
        if series.endswith(suffix) and series.removesuffix(suffix) in histograms:
            return series.removesuffix(suffix)
    return series
