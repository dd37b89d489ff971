"""Settings: env parsing, validation, and the README table covering every variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from service.settings import Settings

README = Path(__file__).parents[1] / "README.md"


def env_names(model: BaseModel, prefix: str = "ZAPQ_") -> list[str]:
    names = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            names += env_names(value, f"{prefix}{name.upper()}__")
        else:
            names.append(prefix + name.upper())
    return names


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in env_names(Settings()) if f"`{name}`" not in text]
    assert not missing, f"add these to the README configuration table: {missing}"


def test_lists_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAPQ_API_KEYS", "k1, k2")
    monkeypatch.setenv("ZAPQ_WORKER__RETRY_DELAYS_SECONDS", "1,2.5")
    monkeypatch.setenv("ZAPQ_WORKER__MAX_JOBS", "4")
    settings = Settings()
    assert [key.get_secret_value() for key in settings.api_keys] == ["k1", "k2"]
    assert settings.worker.retry_delays_seconds == [1.0, 2.5]
    assert settings.worker.max_jobs == 4


def test_secrets_are_not_printed() -> None:
    settings = Settings(api_keys=["s3cret"], evolution={"api_key": "evo-s3cret"})
    assert "s3cret" not in repr(settings)


def test_job_timeout_must_exceed_request_time() -> None:
    with pytest.raises(ValidationError, match="job timeout must exceed"):
        Settings(worker={"job_timeout_seconds": 10}, evolution={"read_timeout_seconds": 30})


def test_negative_retry_delay_is_refused() -> None:
    with pytest.raises(ValidationError, match="retry delays"):
        Settings(worker={"retry_delays_seconds": [1, -1]})
