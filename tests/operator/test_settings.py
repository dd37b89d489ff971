"""`zapq operator`'s settings: its group, the watch timeouts' cross-check, and the command refusing
to start without the webhook it must set (exit 2, naming the variables, never a value)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.config_errors import SettingProblem
from service.settings import Settings


def test_the_operator_group() -> None:
    settings = Settings(operator={"namespaces": "billing, sales", "state_interval_seconds": 2})
    assert settings.operator.namespaces == ["billing", "sales"]
    assert settings.operator.state_interval_seconds == 2
    assert Settings().operator.namespaces == []  # every namespace


def test_the_client_watch_timeout_must_exceed_the_servers() -> None:
    watch = {"watch_server_timeout_seconds": 300, "watch_client_timeout_seconds": 300}
    with pytest.raises(ValueError, match="watch timeout") as caught:
        Settings(operator=watch)
    assert isinstance(caught.value.errors()[0]["ctx"]["error"], SettingProblem)  # type: ignore[attr-defined]


def test_the_command_needs_the_webhook_url_and_token() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPQ_")}
    env["ZAPQ_EVOLUTION__API_KEY"] = "secret-value-never-printed"
    result = subprocess.run(
        [sys.executable, "-m", "service", "operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ZAPQ_OPERATOR__WEBHOOK_URL: is required by zapq operator" in result.stderr
    assert "ZAPQ_EVOLUTION__WEBHOOK_TOKEN: is required by zapq operator" in result.stderr
    assert "secret-value-never-printed" not in result.stderr + result.stdout
