"""The values table of helm/zapq/README.md, generated from helm/zapq/values.yaml.

Every documented key of values.yaml (a `# --` comment above it, continued on the following `#`
lines) is one row: dotted path, type, default (compact JSON) and the comment. A mapping without a
`# --` comment is a group and its keys are documented one by one; a documented mapping (resources,
probes, ...) is one row with its whole default. The same comments are the `description` of each
property in values.schema.json, kept in sync here too.

    .venv/bin/python scripts/chart_docs.py            # rewrite the table (and schema descriptions)
    .venv/bin/python scripts/chart_docs.py --check    # exit 1 when either is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "zapq"
START, END = "<!-- values:start -->", "<!-- values:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*:(\s|$)")


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: Any
    description: str


def parse_descriptions(text: str) -> dict[str, str]:
    """Dotted key -> its `# --` comment; the keys inside a documented key are not visited."""
    docs: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    inside: int | None = None  # indentation of the documented key whose value we are in
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped.removeprefix("# --").strip()]
        elif stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped.removeprefix("#").strip())
        elif not stripped:
            pending = None
        elif match := _KEY.match(line):
            indent = len(match["indent"])
            if inside is not None and indent > inside:
                pending = None
                continue
            inside = None
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match["key"]))
            if pending is not None:
                docs[".".join(key for _, key in stack)] = " ".join(pending)
                inside, pending = indent, None
    return docs


def type_name(value: Any) -> str:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, kind):
            return name
    return "list" if isinstance(value, list) else "object"


def leaf_rows(values: dict[str, Any], docs: dict[str, str], prefix: str = "") -> list[Row]:
    """One row per documented key, in file order; an undocumented non-group key is an error."""
    rows: list[Row] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in docs:
            rows.append(Row(path, type_name(value), value, docs[path]))
        elif isinstance(value, dict) and value:
            rows += leaf_rows(value, docs, f"{path}.")
        else:
            raise ValueError(f"values.yaml: {path} has no `# --` comment")
    return rows


def _cell(text: str) -> str:
    """Markdown table cell: pipes escaped, and `<release>` outside code spans kept from being read
    as an HTML tag (which GitHub would drop)."""
    parts = text.replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def render_table(rows: list[Row]) -> str:
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for row in rows:
        default = json.dumps(row.default, ensure_ascii=False).replace("|", "\\|")
        lines.append(f"| `{row.key}` | {row.type} | `{default}` | {_cell(row.description)} |")
    return "\n".join(lines)


def replace_table(readme: str, table: str) -> str:
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README.md needs the {START} and {END} markers")
    return f"{head}{START}\n{table}\n{END}{tail}"


def schema_node(schema: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The schema of a dotted key, or None when the schema has no such property."""
    node: dict[str, Any] | None = schema
    for part in key.split("."):
        node = (node or {}).get("properties", {}).get(part)
    return node


def sync_descriptions(schema: dict[str, Any], docs: dict[str, str]) -> list[str]:
    """Set each documented property's description; returns the keys that changed or are missing."""
    drift = []
    for key, text in docs.items():
        node = schema_node(schema, key)
        if node is None:
            drift.append(f"{key} (not in values.schema.json)")
        elif node.get("description") != text:
            node["description"] = text
            drift.append(key)
    return drift


def generate(chart: Path = CHART) -> tuple[str, dict[str, Any], list[str]]:
    """The README with a fresh table, the schema with fresh descriptions, and the schema drift."""
    text = (chart / "values.yaml").read_text()
    docs = parse_descriptions(text)
    table = render_table(leaf_rows(yaml.safe_load(text), docs))
    readme = replace_table((chart / "README.md").read_text(), table)
    schema = json.loads((chart / "values.schema.json").read_text())
    return readme, schema, sync_descriptions(schema, docs)


def check(chart: Path = CHART) -> list[str]:
    """What is out of date; empty when README.md and values.schema.json match values.yaml."""
    readme, _, drift = generate(chart)
    stale = [] if readme == (chart / "README.md").read_text() else ["README.md values table"]
    return stale + [f"values.schema.json description of {key}" for key in drift]


def report(stale: list[str]) -> int:
    for item in stale:
        print(f"out of date: {item} (run scripts/chart_docs.py)", file=sys.stderr)
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 instead of rewriting")
    if not parser.parse_args(argv).check:
        readme, schema, drift = generate()
        (CHART / "README.md").write_text(readme)
        if drift:
            (CHART / "values.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    # After a rewrite only a key missing from the schema is left: that needs a hand-written type.
    return report(check())


if __name__ == "__main__":
    sys.exit(main())
