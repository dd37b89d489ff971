"""API keys: the tenant, scopes and quotas behind the secret a request carries.

A key is configured by its SHA-256 only (``ZAPQ_API__KEYS``, a JSON list: ``zapq keys new`` makes
one), so the secret is in no setting, Helm value or Redis key. The plain ``ZAPQ_API_KEYS`` list
still works: each is a key with every scope, named after its id (the first 16 hex digits of its
SHA-256), the namespace its messages and idempotency keys had before keys had names.

A secret is looked up by its SHA-256: the lookup's timing can only tell an attacker about a hash,
and finding a secret from its hash is a preimage attack on SHA-256.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import string
from dataclasses import dataclass
from typing import Final

from service.settings import SCOPES, ApiKeySpec, Scope, Settings

#: Shortest guessing work accepted for a plain key at start-up (NIST SP 800-63B's floor for
#: random secrets; ``zapq keys new`` makes 256-bit ones).
MIN_KEY_BITS: Final = 128
# Secrets copied from examples and docs: refused whatever their length.
PLACEHOLDERS: Final = frozenset(
    {
        "changeme",
        "change-me",
        "change-me-key-1",
        "change-me-key-2",
        "replace-me",
        "secret",
        "password",
        "test-key",
        "dev-key",
        "api-key",
        "your-api-key",
        "ci-key",
        "ci-key-1",
        "ci-key-2",
        "<api-key>",
        "xxx",
    }
)
_CLASSES: Final = (string.ascii_lowercase, string.ascii_uppercase, string.digits)
# A secret drawn from few distinct characters ("aaaa...") is no secret, whatever its length.
_MIN_DISTINCT: Final = 8


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request: ``name`` is its tenant (stored on what it creates)."""

    name: str
    scopes: frozenset[Scope]
    #: Its quotas (None: unlimited); shared by every API pod (service/limits/quotas.py).
    requests_per_second: float | None = None
    messages_per_day: int | None = None

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes

    def allows(self, scope: Scope) -> bool:
        """``admin`` holds every scope: an operator can do what any tenant can."""
        return self.admin or scope in self.scopes


def hash_secret(secret: str) -> str:
    """The SHA-256 of a secret (hex): what ``ZAPQ_API__KEYS`` holds."""
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id(secret: str) -> str:
    """A plain key's name: the first 16 hex digits of its SHA-256."""
    return hash_secret(secret)[:16]


def new_secret() -> str:
    """A new key: 256 random bits, URL-safe, with a prefix that secret scanners can match."""
    return "zapq_" + secrets.token_urlsafe(32)


class KeyRing:
    """Every accepted key of one process, by the SHA-256 of its secret."""

    def __init__(self, principals: dict[str, Principal]) -> None:
        self._by_hash = principals

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        api = settings.api
        principals = {
            key.sha256: _principal(key, api.requests_per_second, api.messages_per_day)
            for key in api.keys
        }
        for plain in settings.api_keys:
            secret = plain.get_secret_value()
            principals[hash_secret(secret)] = Principal(
                key_id(secret), frozenset(SCOPES), api.requests_per_second, api.messages_per_day
            )
        return cls(principals)

    def identify(self, secret: str) -> Principal | None:
        return self._by_hash.get(hash_secret(secret))

    def __len__(self) -> int:
        return len(self._by_hash)


def _principal(key: ApiKeySpec, rate: float | None, per_day: int | None) -> Principal:
    return Principal(
        key.name,
        frozenset(key.scopes),
        key.requests_per_second if key.requests_per_second is not None else rate,
        key.messages_per_day if key.messages_per_day is not None else per_day,
    )


def estimated_bits(secret: str) -> float:
    """Guessing work of a secret (bits): its length times the bits of the character classes it
    draws from (lower case, upper case, digits, anything else). Generous to random keys (a
    32-digit hex key counts as 165) and mean to words and short or repetitive keys."""
    if len(set(secret)) < _MIN_DISTINCT:
        return 0.0
    alphabet = sum(len(chars) for chars in _CLASSES if any(ch in chars for ch in secret))
    if any(not any(ch in chars for chars in _CLASSES) for ch in secret):
        alphabet += 33  # printable ASCII punctuation and space
    return len(secret) * math.log2(alphabet)


_PLACEHOLDER_HASHES: Final = frozenset(hash_secret(value) for value in PLACEHOLDERS)


def weak_key_problems(settings: Settings) -> list[str]:
    """Why the configured keys must not be served (one line each, never a key): a placeholder
    from the examples, or a plain key under MIN_KEY_BITS."""
    problems = []
    for index, plain in enumerate(settings.api_keys, start=1):
        secret = plain.get_secret_value()
        if secret.lower() in PLACEHOLDERS:
            problems.append(f"ZAPQ_API_KEYS: item {index}: a placeholder from the examples")
        elif estimated_bits(secret) < MIN_KEY_BITS:
            problems.append(
                f"ZAPQ_API_KEYS: item {index}: weaker than {MIN_KEY_BITS} bits "
                "(use `zapq keys new`, or 32 random hex digits)"
            )
    for index, key in enumerate(settings.api.keys, start=1):
        if key.sha256 in _PLACEHOLDER_HASHES:
            problems.append(f"ZAPQ_API__KEYS: item {index}: the hash of a placeholder")
    return problems
