"""Invalid settings: every command exits 2 with one line per problem, naming the ZAPQ_* variable
and printing no setting's value (issue #15: pydantic's input_value printed the Redis password and
the Evolution key next to a bad timeout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.config_errors import (
    EXIT_INVALID_SETTINGS,
    SettingProblem,
    describe,
    load_settings,
)
from service.devstack import free_port
from service.settings import Settings, get_settings

REDIS_PASSWORD = "redis-pw-8c1f"
EVOLUTION_KEY = "evo-key-5d2a"
API_KEYS = ("api-key-one-77", "api-key-two-91")
SECRETS = {
    "ZAPQ_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0",
    "ZAPQ_EVOLUTION__API_KEY": EVOLUTION_KEY,
    "ZAPQ_API_KEYS": ",".join(API_KEYS),
}
SECRET_TEXTS = (REDIS_PASSWORD, EVOLUTION_KEY, *API_KEYS)
# A cold `python -m service` imports in about a second; a loaded machine takes longer.
_COMMAND_TIMEOUT_SECONDS = 60


def zapq(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`zapq <args>` with only the given ZAPQ_* variables set (and the secrets)."""
    clean = {key: value for key, value in os.environ.items() if not key.upper().startswith("ZAPQ_")}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={**clean, **SECRETS, **env},
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def assert_no_values(done: subprocess.CompletedProcess[str], *values: str) -> None:
    printed = done.stdout + done.stderr
    for value in (*SECRET_TEXTS, *values):
        assert value not in printed, f"{value!r} was printed"


@pytest.mark.parametrize(
    "command",
    [["api"], ["worker"], ["schedule"], ["status"], ["dev", "--data-dir", "{tmp}"]],
    ids=lambda command: command[0],
)
def test_every_command_names_the_variable_and_prints_no_value(
    command: list[str], tmp_path: Path
) -> None:
    argv = [arg.replace("{tmp}", str(tmp_path / "dev")) for arg in command]
    done = zapq(*argv, ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS="-7.25")
    assert done.returncode == EXIT_INVALID_SETTINGS, done.stderr
    assert done.stderr.splitlines() == [
        "zapq: invalid setting ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS: must be > 0"
    ]
    assert_no_values(done, "7.25")
    # `zapq dev` checks before it starts anything.
    assert not (tmp_path / "dev").exists()


def test_one_line_per_problem() -> None:
    done = zapq("status", ZAPQ_WORKER__MAX_JOBS="0", ZAPQ_API__PORT="eighty", ZAPQ_LOG_LEVEL="LOUD")
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert sorted(done.stderr.splitlines()) == [
        "zapq: invalid setting ZAPQ_API__PORT: must be a valid integer, unable to parse string "
        "as an integer",
        "zapq: invalid setting ZAPQ_LOG_LEVEL: must be one of 'DEBUG', 'INFO', 'WARNING' or "
        "'ERROR'",
        "zapq: invalid setting ZAPQ_WORKER__MAX_JOBS: must be >= 1",
    ]
    assert_no_values(done, "eighty", "LOUD")


def test_a_nested_json_setting_names_its_variable_and_field() -> None:
    group = f'{{"api_key": "{EVOLUTION_KEY}", "read_timeout_seconds": -3}}'
    done = zapq("worker", ZAPQ_EVOLUTION=group)
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert done.stderr.splitlines() == [
        "zapq: invalid setting ZAPQ_EVOLUTION (JSON): read_timeout_seconds: must be > 0"
    ]
    assert_no_values(done, "-3")


def test_unparsable_json_names_the_variable_only() -> None:
    done = zapq("api", ZAPQ_EVOLUTION=f'{{"api_key": "{EVOLUTION_KEY}", ')
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert done.stderr.splitlines() == ["zapq: invalid setting ZAPQ_EVOLUTION: is not valid JSON"]
    assert_no_values(done)


def test_a_list_setting_names_the_item() -> None:
    done = zapq("worker", ZAPQ_WORKER__RETRY_DELAYS_SECONDS="300,half-an-hour,7200")
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert done.stderr.splitlines() == [
        "zapq: invalid setting ZAPQ_WORKER__RETRY_DELAYS_SECONDS: item 2: must be a valid "
        "number, unable to parse string as a number"
    ]
    assert_no_values(done, "half-an-hour")


def test_a_broken_json_list_of_secrets_prints_none_of_them() -> None:
    done = zapq("api", ZAPQ_API_KEYS=f'["{API_KEYS[0]}", "{API_KEYS[1]}"')
    assert done.returncode == EXIT_INVALID_SETTINGS
    assert done.stderr.splitlines() == ["zapq: invalid setting ZAPQ_API_KEYS: is not valid JSON"]
    assert_no_values(done)


def problems(monkeypatch: pytest.MonkeyPatch, model: type[BaseModel], **env: str) -> list[str]:
    for key in list(os.environ):
        if key.upper().startswith("ZAPQ_"):
            monkeypatch.delenv(key)
    for key, value in {**SECRETS, **env}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as caught:
        model()
    return describe(caught.value, model, os.environ)


def test_our_validators_lose_the_values_they_quote(monkeypatch: pytest.MonkeyPatch) -> None:
    zone = problems(monkeypatch, Settings, ZAPQ_SCHEDULE__TIME_ZONE="Mars/Olympus_Mons")
    assert zone == [
        "invalid setting ZAPQ_SCHEDULE__TIME_ZONE: unknown time zone "
        "(an IANA name such as America/Sao_Paulo)"
    ]
    delays = problems(monkeypatch, Settings, ZAPQ_WORKER__RETRY_DELAYS_SECONDS="5,-17")
    assert delays == [
        "invalid setting ZAPQ_WORKER__RETRY_DELAYS_SECONDS: retry delays must be >= 0 seconds"
    ]


def test_our_validators_keep_their_own_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bound in our text (>= 32) stays; the value given (its length, its digits) does not."""
    token = problems(monkeypatch, Settings, ZAPQ_EVOLUTION__WEBHOOK_TOKEN="hook-token-1234")
    assert token == [
        "invalid setting ZAPQ_EVOLUTION__WEBHOOK_TOKEN: must have >= 32 characters "
        "(or be empty: webhooks refused)"
    ]
    secret = problems(monkeypatch, Settings, ZAPQ_CALLBACKS__SIGNING_SECRET="whsec_c2hvcnQ=")
    assert secret == [
        "invalid setting ZAPQ_CALLBACKS__SIGNING_SECRET: must be whsec_ followed by the base64 "
        "of >= 24 and <= 64 bytes"
    ]


def test_a_cross_check_names_the_settings_in_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    (line,) = problems(monkeypatch, Settings, ZAPQ_WORKER__JOB_TIMEOUT_SECONDS="21.5")
    assert line.startswith("invalid settings ZAPQ_WORKER__JOB_TIMEOUT_SECONDS, ")
    assert "ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS" in line and "must exceed" in line
    assert "21.5" not in line and "35" not in line  # nor the request time computed from values


class _Limits(BaseModel):
    low_seconds: float = 1.0
    high_seconds: float = 2.0

    @model_validator(mode="after")
    def _ordered(self) -> _Limits:
        if self.low_seconds >= self.high_seconds:
            raise SettingProblem(["low_seconds", "high_seconds"], "low must stay below high")
        return self


class _Checked(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZAPQ_", env_nested_delimiter="__")

    limits: _Limits = Field(default_factory=_Limits)
    token: str = ""

    @model_validator(mode="after")
    def _token_with_limits(self) -> _Checked:
        if self.token and self.limits.high_seconds > 100:
            raise SettingProblem(["token", "limits.high_seconds"], "a token caps high at 100 s")
        return self


def test_a_setting_problem_names_every_setting_it_compares(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nested = problems(monkeypatch, _Checked, ZAPQ_LIMITS__LOW_SECONDS="3")
    assert nested == [
        "invalid settings ZAPQ_LIMITS__LOW_SECONDS, ZAPQ_LIMITS__HIGH_SECONDS: "
        "low must stay below high"
    ]
    top = problems(monkeypatch, _Checked, ZAPQ_TOKEN=EVOLUTION_KEY, ZAPQ_LIMITS__HIGH_SECONDS="500")
    assert top == [
        "invalid settings ZAPQ_TOKEN, ZAPQ_LIMITS__HIGH_SECONDS: a token caps high at 100 s"
    ]


def test_load_settings_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ZAPQ_WORKER__MAX_JOBS", "-1")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            load_settings()
    finally:
        get_settings.cache_clear()
    assert exited.value.code == EXIT_INVALID_SETTINGS
    assert capsys.readouterr().err == "zapq: invalid setting ZAPQ_WORKER__MAX_JOBS: must be >= 1\n"


def test_the_cli_reads_settings_only_through_load_settings() -> None:
    source = (Path(__file__).parents[1] / "service" / "cli.py").read_text(encoding="utf-8")
    assert "get_settings" not in source and "Settings(" not in source
