"""The ports of validator.js' isURL/isBase64 and mime-types' lookup, and the webhook JWT.

Expected values were read by running validator 13.15.15 and mime-types 2.1.35 (the versions in
Evolution 2.3.6's lockfile) under Node on these exact inputs.
"""

from __future__ import annotations

import jwt
import pytest

from service.sim import tokens
from service.sim.media_checks import is_base64, is_image, is_url, mime_lookup

URLS = [
    ("http://localhost/a.png", False),
    ("http://127.0.0.1:8080/a.png", True),
    ("example.com/a.png", True),
    ("ftp://x.com/a", True),
    ("https://x.com/a b", False),
    ("", False),
    ("https://user:pw@cdn.example.com:443/f.pdf?x=1", True),
    ("http://[::1]:80/x", True),
    ("//x.com/a", False),
    ("https://x.c/a", False),
    ("https://-x.com/", False),
    ("https://x.com:0/", False),
    ("https://x_y.com/", False),
    ("mailto:a@b.com", False),
    ("gopher://x.com/", False),
    ("https://a@/x", False),
    ("https://:@x.com/", False),
    ("https://x.com:99999/", False),
    ("https://xn--bcher-kva.example/", True),
    ("https://例え.テスト/", True),
    ("https://x.123/", False),
]
BASE64 = [
    ("", True),
    ("aGVsbG8=", True),
    ("aGVsbG8", False),
    ("aGVs bG8=", False),
    ("aGVsbA==", True),
    ("aGVsbA=", False),
    ("a===", False),
    ("aGVsbG8-", False),
    ("++//", True),
    ("data:image/png;base64,aGVsbG8=", False),
]
LOOKUPS = [
    ("boleto.pdf", "application/pdf"),
    ("IMG.JPG", "image/jpeg"),
    ("nota", None),
    ("a.tar.gz", "application/gzip"),
    ("x.invoice", None),
    ("dir/file", None),
    ("video.mp4", "video/mp4"),
]


@pytest.mark.parametrize(("value", "expected"), URLS)
def test_is_url_matches_validator_js(value: str, expected: bool) -> None:
    assert is_url(value) is expected


@pytest.mark.parametrize(("value", "expected"), BASE64)
def test_is_base64_matches_validator_js(value: str, expected: bool) -> None:
    assert is_base64(value) is expected


def test_non_strings_are_neither() -> None:
    assert not is_url(None) and not is_base64(None) and not is_base64(5)


@pytest.mark.parametrize(("name", "expected"), LOOKUPS)
def test_mime_lookup_matches_mime_types(name: str, expected: str | None) -> None:
    assert mime_lookup(name) == expected


def test_is_image_by_signature() -> None:
    assert is_image(b"\x89PNG\r\n\x1a\n....")
    assert is_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert not is_image(b"%PDF-1.4")


def test_the_fallback_encoder_signs_like_pyjwt() -> None:
    key = "k" * 32
    claims = tokens.webhook_claims(now=1_700_000_000)
    token = tokens.encode_hs256(claims, key)
    assert token == jwt.encode(claims, key, algorithm="HS256")
    assert jwt.decode(token, key, algorithms=["HS256"], options={"verify_exp": False}) == {
        "iat": 1_700_000_000,
        "exp": 1_700_000_600,
        "app": "evolution",
        "action": "webhook",
    }


def test_webhook_token_accepts_a_short_key_quietly() -> None:
    """jsonwebtoken signs with any key; PyJWT's short-key warning must not escape (the test
    suite turns warnings into errors)."""
    token = tokens.webhook_token("short")
    assert token.count(".") == 2
