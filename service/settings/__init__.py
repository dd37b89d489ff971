"""zapq configuration: one Settings object of nested groups, read from the environment.

Environment variables use the prefix ``ZAPQ_`` and ``__`` between a group and its field, for example
``ZAPQ_REDIS_URL``, ``ZAPQ_EVOLUTION__BASE_URL`` or ``ZAPQ_WORKER__MAX_JOBS``. Lists are given
comma-separated (``ZAPQ_API_KEYS=key1,key2``, ``ZAPQ_WORKER__RETRY_DELAYS_SECONDS=300,1500,7200``).
Every duration carries its unit in its name; the README's configuration table lists them all.
Each group lives in its own module of this package; everything is importable from here.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.config_errors import SettingProblem
from service.redis import parse_redis_url
from service.settings.api import ApiKeySpec, ApiSettings
from service.settings.callbacks import CallbackSettings
from service.settings.delivery import (
    EvolutionSettings,
    MessageSettings,
    MetricsSettings,
    WorkerSettings,
)
from service.settings.operator import OperatorSettings
from service.settings.schedule import ScheduleSettings, SourceKind
from service.settings.senders import PoolSettings, SenderOptions, SenderSpec
from service.settings.types import (
    KEY_NAME_PATTERN,
    SCOPES,
    SENDER_NAME_PATTERN,
    RetryDelays,
    Scope,
    split_commas,
)

__all__ = [
    "KEY_NAME_PATTERN",
    "SCOPES",
    "SENDER_NAME_PATTERN",
    "ApiKeySpec",
    "ApiSettings",
    "CallbackSettings",
    "EvolutionSettings",
    "MessageSettings",
    "MetricsSettings",
    "OperatorSettings",
    "PoolSettings",
    "RetryDelays",
    "ScheduleSettings",
    "Scope",
    "SenderOptions",
    "SenderSpec",
    "Settings",
    "SourceKind",
    "WorkerSettings",
    "get_settings",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZAPQ_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    # One Redis (redis://, rediss://, unix://), a Sentinel-managed master (redis+sentinel://) or a
    # Redis Cluster (redis+cluster://): service/redis.py.
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # Every key zapq writes starts with this Redis Cluster hash tag (one slot, see
    # service/queue/keys.py); installations sharing one Redis each need their own.
    redis_key_prefix: str = Field("{zapq}", pattern=r"^\{[A-Za-z0-9_.-]{1,32}\}$")
    # Accepted API keys (Authorization: Bearer <key>). Empty refuses every /v1 request.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Redis socket timeout: a healthy Redis answers in < 1 ms; 5 s tolerates a failover.
    redis_timeout_seconds: float = Field(5.0, gt=0)
    api: ApiSettings = Field(default_factory=ApiSettings)
    evolution: EvolutionSettings = Field(default_factory=EvolutionSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    messages: MessageSettings = Field(default_factory=MessageSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    pool: PoolSettings = Field(default_factory=PoolSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    operator: OperatorSettings = Field(default_factory=OperatorSettings)
    # The sender pool's bootstrap (JSON list of SenderSpec): written to the registry at start-up for
    # senders it does not have yet. Empty: one sender from ZAPQ_EVOLUTION__* (named after its
    # instance), today's single-number setups.
    senders: list[SenderSpec] = Field(default_factory=list)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr) -> SecretStr:
        parse_redis_url(value.get_secret_value())
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("senders")
    @classmethod
    def _unique_names(cls, value: list[SenderSpec]) -> list[SenderSpec]:
        names = [sender.name for sender in value]
        if len(set(names)) != len(names):
            raise ValueError("sender names must be unique")
        return value

    @model_validator(mode="after")
    def _callback_keys_exist(self) -> Settings:
        """A callbacks.key_urls entry must name a configured API key (a typo would silently send
        that key's events to the default endpoint, or nowhere)."""
        known = {spec.name for spec in self.api.keys} | {
            hashlib.sha256(key.get_secret_value().encode()).hexdigest()[:16]
            for key in self.api_keys
        }  # a plain key's name (service/auth/keys.key_id)
        if set(self.callbacks.key_urls) - known:
            raise SettingProblem(
                ["callbacks.key_urls", "api.keys", "api_keys"],
                "every key of the callback URLs must name a configured API key",
            )
        return self

    @model_validator(mode="after")
    def _watch_outlives_server_timeout(self) -> Settings:
        operator = self.operator
        if operator.watch_client_timeout_seconds <= operator.watch_server_timeout_seconds:
            raise SettingProblem(
                ["operator.watch_client_timeout_seconds", "operator.watch_server_timeout_seconds"],
                "the client's watch timeout must exceed the server's",
            )
        return self

    @model_validator(mode="after")
    def _job_outlives_request(self) -> Settings:
        if self.worker.job_timeout_seconds <= self.evolution.request_timeout_seconds:
            raise SettingProblem(
                [
                    "worker.job_timeout_seconds",
                    "evolution.connect_timeout_seconds",
                    "evolution.typing_delay_ms",
                    "evolution.read_timeout_seconds",
                ],
                "the job timeout must exceed the longest Evolution request (connect + typing "
                "delay + read timeout)",
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment (entrypoints only)."""
    return Settings()
