"""``ZAPQ_SENDERS`` and ``ZAPQ_POOL__*``: the sender pool (docs/senders.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from service.settings.types import SENDER_NAME_PATTERN, json_number, known_zone


class SenderOptions(BaseModel):
    """One sender: one Evolution instance (one WhatsApp number) and what it may safely send.
    ``PUT /v1/senders/{name}`` takes these; ``ZAPQ_SENDERS`` a JSON list of SenderSpec."""

    model_config = ConfigDict(extra="forbid")

    # Evolution's instance name (default: the sender's name).
    instance: str | None = Field(None, min_length=1, max_length=128)
    # Evolution server and key of this instance (default: ZAPQ_EVOLUTION__BASE_URL / __API_KEY), so
    # several Evolution servers can serve one pool.
    base_url: str | None = Field(None, pattern=r"^https?://")
    api_key: SecretStr | None = None
    # Sends per second on this number, shared by every pod: 50 is the product's promise per number
    # and about what WhatsApp's Cloud API allows (80/s); unofficial (Baileys) numbers are banned at
    # far lower rates: set them lower.
    rate_per_second: float = Field(50.0, ge=0.001, le=1000)
    # Sends that may go at once after an idle spell; any 1-s window holds at most rate + burst.
    burst: int = Field(10, ge=1, le=1000)
    # Sends per day in ``time_zone`` (None: no daily limit); warm-up plans for new numbers use it.
    # At most a million: far past what one number may send a day, and an exact integer in Lua.
    daily_limit: int | None = Field(None, ge=1, le=1_000_000)
    # The day of daily_limit (default: ZAPQ_POOL__TIME_ZONE).
    time_zone: str | None = None
    paused: bool = Field(False, strict=True)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)

    _numbers = field_validator("rate_per_second", "burst", "daily_limit", mode="before")(
        json_number
    )


class SenderSpec(SenderOptions):
    """A named sender (an entry of ``ZAPQ_SENDERS``)."""

    name: str = Field(pattern=SENDER_NAME_PATTERN)


class PoolSettings(BaseModel):
    # How far ahead a worker may book a sender's slot: it holds the job until then. It keeps every
    # sender's next slots booked while the next poll is on its way (the pool runs at its summed
    # rate); an urgent message waits behind at most this much booked work.
    reserve_ahead_seconds: float = Field(0.2, gt=0, le=5)
    # A recipient keeps the sender it was last sent from (the same number in their chat) for this
    # long after the last send: a week covers a billing cycle's reminders.
    sticky_ttl_seconds: int = Field(7 * 86_400, ge=60)
    # Consecutive sender faults that open its breaker: 5 is past any transient blip, and costs the
    # pool at most 5 rerouted sends before traffic moves.
    breaker_failures: int = Field(5, ge=1)
    # ... or this share of faults among at least breaker_min_requests outcomes in the window.
    breaker_failure_ratio: float = Field(0.5, gt=0, le=1)
    breaker_min_requests: int = Field(20, ge=1)
    breaker_window_seconds: float = Field(60.0, gt=0)
    # How long an open breaker waits before trial sends: a dropped WhatsApp session reconnects in
    # seconds to a minute.
    breaker_open_seconds: float = Field(30.0, gt=0)
    # Trial sends let through a half-open breaker; the first success closes it.
    breaker_trials: int = Field(3, ge=1)
    # The day of senders' daily limits, when a sender names no zone of its own.
    time_zone: str = "America/Sao_Paulo"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)

    def script_config(self) -> dict[str, float | int]:
        """What take.lua, complete.lua and promote.lua decide with (milliseconds)."""
        return {
            "horizon_ms": int(self.reserve_ahead_seconds * 1000),
            "sticky_ms": self.sticky_ttl_seconds * 1000,
            "failures": self.breaker_failures,
            "ratio": self.breaker_failure_ratio,
            "min_requests": self.breaker_min_requests,
            "window_ms": int(self.breaker_window_seconds * 1000),
            "open_ms": int(self.breaker_open_seconds * 1000),
            "trials": self.breaker_trials,
            "scan": 4,
        }
