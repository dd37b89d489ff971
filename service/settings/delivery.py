"""``ZAPQ_EVOLUTION__*``, ``ZAPQ_WORKER__*``, ``ZAPQ_MESSAGES__*``, ``ZAPQ_METRICS__*``: sending."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from service.settings.types import RetryDelays


class EvolutionSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8080"
    api_key: SecretStr = SecretStr("")
    instance: str = "zapq"
    # TCP connect budget; a healthy in-cluster service connects in milliseconds, 5 s rides out a
    # restart.
    connect_timeout_seconds: float = Field(5.0, gt=0)
    # Budget for the response after the request is sent, on top of any typing `delay` we ask for:
    # Evolution holds the response for the whole delay (contract section 7), then does the WhatsApp
    # send.
    read_timeout_seconds: float = Field(30.0, gt=0)
    # The typing indicator Evolution shows before sending (the `delay` field, ms). 0 sends at once.
    typing_delay_ms: int = Field(0, ge=0, le=60_000)
    # "aiohttp" keeps the httpx API on aiohttp's faster transport (see docs/benchmarks.md); "httpx"
    # is the pure-httpx transport.
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    # What Evolution's webhooks must carry (POST /v1/webhooks/evolution): "Authorization: Bearer
    # <token>", or a JWT signed with it (Evolution's jwt_key header); `zapq operator` sets it on
    # every instance's webhook. Empty refuses every webhook.
    # 32 characters at least: it keeps strangers from marking messages read or opting numbers
    # out, and an HS256 key shorter than 256 bits is below RFC 7518's minimum.
    webhook_token: SecretStr = SecretStr("")

    @field_validator("webhook_token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if 0 < len(value.get_secret_value()) < 32:
            raise ValueError("must have >= 32 characters (or be empty: webhooks refused)")
        return value

    @property
    def request_timeout_seconds(self) -> float:
        """The longest one sendText may take: connect + typing delay + the response budget."""
        return (
            self.connect_timeout_seconds + self.typing_delay_ms / 1000 + self.read_timeout_seconds
        )


class WorkerSettings(BaseModel):
    # Concurrent jobs per worker process. Sizing rule: max_jobs >= rate_per_second x Evolution
    # latency (50 msg/s x 0.1 s = 5), doubled for latency spikes: 10.
    max_jobs: int = Field(10, ge=1, le=1000)
    # Sustained sends per second per worker process (token bucket refill rate).
    rate_per_second: float = Field(50.0, gt=0)
    # Token bucket size: how many sends may go at once after an idle period.
    rate_burst: int = Field(100, ge=1)
    # Upper bound on one job; it must exceed the longest HTTP request. A job taken by a worker that
    # dies is redelivered when its lock (this + 10 s) expires.
    job_timeout_seconds: float = Field(60.0, gt=0)
    # Delay before retry 1, 2, 3 ...; after the last one the message goes to the dead letters.
    retry_delays_seconds: RetryDelays = Field(default_factory=lambda: [300.0, 1500.0, 7200.0])
    # +/- this fraction of random spread on each retry delay, so an outage's retries do not return
    # at once.
    retry_jitter_ratio: float = Field(0.1, ge=0, le=1)
    # How often an idle worker looks at the queue. arq's default 0.5 s stalls a 50 msg/s worker at
    # about 20 msg/s with 100 ms latency; 20 ms keeps slots full and costs one cheap ZRANGEBYSCORE
    # per poll.
    poll_delay_seconds: float = Field(0.02, gt=0, le=5)
    # On SIGTERM: stop taking jobs, give in-flight ones this long to finish, then stop. Must stay
    # below the pod's terminationGracePeriodSeconds.
    drain_timeout_seconds: int = Field(25, ge=0)
    # A job redelivered this many times (its worker died or hung each time) is dead-lettered
    # instead of being tried forever.
    max_deliveries: int = Field(5, ge=1)
    # The queue-wide gauges (depths, ages, senders) are read from Redis when /metrics is scraped,
    # at most once per this: several scrapers of one process cost one read.
    stats_interval_seconds: float = Field(2.0, gt=0)


class MessageSettings(BaseModel):
    # Phone numbers without a +country prefix are read as numbers of this region (ISO 3166 alpha-2).
    default_region: str = "BR"
    # A message with no expires_at may be sent up to this long after it becomes due: a notification
    # delivered a day late is usually worse than none.
    default_validity_seconds: int = Field(86_400, ge=60)
    # How long a finished message (sent, failed, expired, cancelled) stays readable via GET.
    retention_seconds: int = Field(7 * 86_400, ge=60)
    # How long a dead-lettered message stays in the dead-letter list waiting for a requeue.
    dead_letter_retention_seconds: int = Field(14 * 86_400, ge=60)


class MetricsSettings(BaseModel):
    # Port of each worker's /metrics, /healthz and /readyz server (the API serves /metrics itself).
    port: int = Field(9100, ge=0, le=65535)
    host: str = "0.0.0.0"
