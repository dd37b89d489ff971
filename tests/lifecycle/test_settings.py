"""The callbacks settings group and the webhook token: parsed from the environment, refused with
a line that names the variable and prints no value."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from service.auth.keys import key_id as api_key_id
from service.config_errors import describe
from service.settings import Settings

SECRET = "whsec_" + base64.b64encode(b"x" * 32).decode()


def problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    lines = describe(caught.value, Settings, os.environ)
    for value in env.values():
        assert all(value not in line for line in lines), "a value was printed"
    return lines


def test_lists_and_maps_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPQ_API_KEYS", "key-one")
    monkeypatch.setenv("ZAPQ_CALLBACKS__RETRY_DELAYS_SECONDS", "1, 2.5")
    monkeypatch.setenv("ZAPQ_CALLBACKS__OPT_OUT_KEYWORDS", "sair,parar")
    monkeypatch.setenv(
        "ZAPQ_CALLBACKS__KEY_URLS", f'{{"{api_key_id("key-one")}": "https://a.example/h"}}'
    )
    monkeypatch.setenv("ZAPQ_CALLBACKS__SIGNING_SECRET", SECRET)
    callbacks = Settings().callbacks
    assert callbacks.retry_delays_seconds == [1.0, 2.5]
    assert callbacks.opt_out_keywords == ["sair", "parar"]
    assert callbacks.url_for(api_key_id("key-one")) == "https://a.example/h"
    assert callbacks.url_for(api_key_id("key-two")) == ""
    assert SECRET not in repr(callbacks)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("ZAPQ_CALLBACKS__SIGNING_SECRET", "whsec_c2hvcnQ=", "must be whsec_ followed by"),
        ("ZAPQ_CALLBACKS__DEFAULT_URL", "ftp://files.example/x", "must be an http:// or https://"),
        ("ZAPQ_CALLBACKS__RETRY_DELAYS_SECONDS", "5,-1", "retry delays must be >= 0 seconds"),
        ("ZAPQ_EVOLUTION__WEBHOOK_TOKEN", "short-token-1234", "must have >= 32 characters"),
    ],
)
def test_bad_values_are_named_not_printed(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reason: str
) -> None:
    [line] = problems(monkeypatch, **{name: value})
    assert line.startswith(f"invalid setting {name}: ") and reason in line


def test_a_key_url_for_no_configured_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    [line] = problems(
        monkeypatch,
        ZAPQ_API_KEYS="key-one",
        ZAPQ_CALLBACKS__KEY_URLS=f'{{"{api_key_id("typo")}": "https://a.example/h"}}',
    )
    assert line == (
        "invalid settings ZAPQ_CALLBACKS__KEY_URLS, ZAPQ_API__KEYS, ZAPQ_API_KEYS: every key of "
        "the callback URLs must name a configured API key"
    )
