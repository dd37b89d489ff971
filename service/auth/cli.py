"""`zapq keys new NAME --scopes ...`: a new API key. The secret is printed once, for the client;
the entry for ZAPQ_API__KEYS (name, SHA-256, scopes) is what the installation keeps."""

from __future__ import annotations

import argparse
import json
import re
import sys

from service.auth.keys import hash_secret, new_secret
from service.settings import KEY_NAME_PATTERN, SCOPES


def _scopes(value: str) -> list[str]:
    scopes = [scope.strip() for scope in value.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise argparse.ArgumentTypeError(
            f"unknown scope {', '.join(unknown) or '(none given)'}; one or more of "
            + ", ".join(SCOPES)
        )
    return list(dict.fromkeys(scopes))


def _name(value: str) -> str:
    if not re.fullmatch(KEY_NAME_PATTERN, value):
        raise argparse.ArgumentTypeError(
            "a key name is 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", required=True)
    new = sub.add_parser("new", help="a new key: its secret (once) and its ZAPQ_API__KEYS entry")
    new.add_argument("name", type=_name, help="the key's name: its tenant (stable across rotation)")
    new.add_argument(
        "--scopes",
        type=_scopes,
        default=["messages:send", "messages:read"],
        help="comma-separated: " + ", ".join(SCOPES) + " (default: messages:send,messages:read)",
    )


def run(args: argparse.Namespace) -> None:
    secret = new_secret()
    entry = {"name": args.name, "sha256": hash_secret(secret), "scopes": args.scopes}
    out = sys.stdout
    out.write(f"secret (give it to the client; it is not shown again): {secret}\n")
    out.write(f"ZAPQ_API__KEYS entry: {json.dumps(entry)}\n")
