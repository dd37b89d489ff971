"""``python -m service.sim``: the Evolution API simulator (same flags as `zapq evolution-sim`)."""

from __future__ import annotations

import argparse

from service.sim import server


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m service.sim", description="Evolution API v2 simulator"
    )
    server.add_arguments(parser)
    server.run(parser.parse_args())


if __name__ == "__main__":
    main()
