"""Types and checks the settings groups share: comma-separated lists, time zones, names."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode


def split_commas(value: Any) -> Any:
    """Accept ``"a, b"`` (or a JSON list) as well as a list: env vars give lists comma-separated."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        return json.loads(value)
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def non_negative(value: list[float]) -> list[float]:
    if any(delay < 0 for delay in value):
        raise ValueError("retry delays must be >= 0 seconds")
    return value


#: A retry schedule: seconds before retry 1, 2, 3 ... (comma-separated in the environment).
RetryDelays = Annotated[
    list[float], NoDecode, BeforeValidator(split_commas), AfterValidator(non_negative)
]


# An API key's scopes: send messages, read (and cancel) its own messages, operate the installation
# (dead letters, senders, suppressions, erasure, any tenant's messages).
Scope = Literal["messages:send", "messages:read", "admin"]
SCOPES: tuple[Scope, ...] = ("messages:send", "messages:read", "admin")
# A key's name is its tenant: stored on every message it creates, in audit lines and Redis keys.
KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown time zone (an IANA name such as America/Sao_Paulo)") from exc
    return value


# A sender's name is a metric label and part of Redis keys: short, and nothing that needs quoting.
SENDER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def json_number(value: Any) -> Any:
    """JSON numbers only: "5" or true is not a rate (pydantic's lax mode would take them)."""
    if isinstance(value, str | bool):
        raise ValueError("must be a number")
    return value
