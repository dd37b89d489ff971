"""The Bearer JWT Evolution puts on webhook posts whose headers carry a ``jwt_key`` (2.3.0+).

WebhookController.generateJwtToken: ``jsonwebtoken.sign(payload, jwt_key, {algorithm:
'HS256'})`` with payload ``{iat, exp: iat + 600, app: "evolution", action: "webhook"}``, iat in
unix seconds. PyJWT signs it when installed (redis-py depends on it, so it usually is); otherwise a
compact HS256 encoder below produces the same token (same header and claim order).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import warnings
from types import ModuleType

import orjson

#: generateJwtToken's "10 min expiration".
TOKEN_LIFETIME_SECONDS = 600
_HEADER = {"alg": "HS256", "typ": "JWT"}


def webhook_claims(now: float | None = None) -> dict[str, object]:
    iat = int(time.time() if now is None else now)
    return {
        "iat": iat,
        "exp": iat + TOKEN_LIFETIME_SECONDS,
        "app": "evolution",
        "action": "webhook",
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_hs256(claims: dict[str, object], key: str) -> str:
    """A compact HS256 JWS, as jsonwebtoken and PyJWT produce it."""
    signing_input = f"{_b64url(orjson.dumps(_HEADER))}.{_b64url(orjson.dumps(claims))}"
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


_pyjwt: ModuleType | None
try:
    import jwt as _pyjwt
except ImportError:  # pragma: no cover - PyJWT comes with redis-py
    _pyjwt = None


def webhook_token(key: str, now: float | None = None) -> str:
    """The token for ``Authorization: Bearer ...``, signed with ``key`` (the jwt_key header)."""
    claims = webhook_claims(now)
    if _pyjwt is not None:
        with warnings.catch_warnings():
            # PyJWT warns on keys under 32 bytes; jsonwebtoken signs with any key, and so do we.
            warnings.simplefilter("ignore", _pyjwt.warnings.InsecureKeyLengthWarning)
            return str(_pyjwt.encode(claims, key, algorithm="HS256"))
    return encode_hs256(claims, key)
