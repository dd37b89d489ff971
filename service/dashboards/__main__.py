"""`python -m service.dashboards [--check] [--out DIR]`: regenerate (or check) the dashboards."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.dashboards import OUTPUT_DIR, render_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.dashboards", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR, help=f"default {OUTPUT_DIR}")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file differs"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path: Path = args.out / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    verb = "stale" if args.check else "written"
    print(f"{verb}: {', '.join(stale)}" if stale else "dashboards up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
