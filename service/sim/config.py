"""The simulator's behaviour knobs: one immutable SimConfig, swapped whole on every change.

Defaults describe a healthy Evolution server with no latency; `zapq dev` and the load tests add
latency and failures through the CLI flags or ``POST /_sim/config``. The knobs of ``Knobs`` can
also be overridden per instance (``POST /_sim/instances/{name}``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_API_KEY = "evo-key"
DEFAULT_INSTANCE = "zapq"
#: The receipts a send gets after its 201, in the order WhatsApp reports them (contract sec. 5).
ACK_STATUSES = ("SERVER_ACK", "DELIVERY_ACK", "READ")
Rate = float
_RATE = Field(0.0, ge=0, le=1)


def _ack_delays() -> dict[str, float]:
    # A phone on a good network: the server ack comes at once, delivery in a fraction of a
    # second, reading (when it happens) a moment later.
    return {"SERVER_ACK": 100.0, "DELIVERY_ACK": 300.0, "READ": 1000.0}


def _ack_probabilities() -> dict[str, float]:
    # Every message reaches the server and the phone; about half are read.
    return {"SERVER_ACK": 1.0, "DELIVERY_ACK": 1.0, "READ": 0.5}


class Knobs(BaseModel):
    """The knobs that apply per instance: the global value unless the instance overrides it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Added to every send that gets past validation: models the WhatsApp round trip.
    latency_ms: float = Field(0.0, ge=0)
    #: Latency is drawn uniformly from latency_ms +/- this (never below 0).
    latency_jitter_ms: float = Field(0.0, ge=0)
    #: Share of sends answered 500 with a JavaScript TypeError message (string).
    fail_5xx_rate: Rate = _RATE
    #: Share of sends answered 400 ["Error: Connection Closed"] (the Baileys socket dropped).
    connection_closed_rate: Rate = _RATE
    #: Share of sends held for timeout_hang_seconds and then answered 201: the message WAS
    #: sent, only the answer is late (the client usually gave up long before).
    timeout_rate: Rate = _RATE
    #: Share of sendMedia answered 500 ["Error: Media upload failed on all hosts"] (Baileys'
    #: upload to WhatsApp's media servers failed; nothing was sent, a retry may succeed).
    media_upload_fail_rate: Rate = _RATE
    #: Delay of each receipt (messages.update) after the previous event of the same message was
    #: posted, in ms; see _ack_delays for the defaults.
    ack_delays_ms: dict[str, float] = Field(default_factory=_ack_delays)
    #: Chance that each receipt happens at all (drawn independently per receipt).
    ack_probabilities: dict[str, float] = Field(default_factory=_ack_probabilities)
    #: Post a message's events in a random order (Evolution does not await its webhook posts).
    webhook_shuffle: bool = False
    #: Share of webhook events posted twice (a receiver must be idempotent).
    webhook_duplicate_rate: Rate = _RATE

    @model_validator(mode="after")
    def _check_acks(self) -> Knobs:
        _check_table("ack_delays_ms", self.ack_delays_ms, upper=None)
        _check_table("ack_probabilities", self.ack_probabilities, upper=1.0)
        return self


def _check_table(name: str, table: dict[str, float], upper: float | None) -> None:
    """Receipt tables name each of ACK_STATUSES once, with values >= 0 (and <= upper)."""
    if set(table) != set(ACK_STATUSES):
        raise ValueError(f"{name} must have exactly the keys {', '.join(ACK_STATUSES)}")
    for status, value in table.items():
        if value < 0 or (upper is not None and value > upper):
            limit = f"between 0 and {upper}" if upper is not None else ">= 0"
            raise ValueError(f"{name}.{status} must be {limit}, got {value}")


KNOB_NAMES = tuple(Knobs.model_fields)


class SimConfig(Knobs):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Evolution's global AUTHENTICATION_API_KEY: accepted on every route.
    api_key: str = Field(DEFAULT_API_KEY, min_length=1)
    #: The instances that exist at start and after a reset, all connected ("open"): name -> its
    #: own token (the ``hash`` Evolution returns on create), or None for global-key-only access.
    instances: dict[str, str | None] = Field(
        default_factory=lambda: dict.fromkeys([DEFAULT_INSTANCE]), min_length=1
    )
    #: 60 s outlasts any sane client read timeout, so a hung request reads as a client timeout.
    timeout_hang_seconds: float = Field(60.0, ge=0)
    #: Numbers that are not on WhatsApp (400 exists:false), compared on their digits.
    invalid_numbers: list[str] = Field(default_factory=list)
    #: Seeds the random generators (failure draws, latency, ids, receipts): same seed, same run.
    seed: int | None = None
    #: How long /instance/connect takes from "connecting" to "open" (a QR scan, simulated).
    connect_delay_seconds: float = Field(1.0, ge=0)
    #: Evolution waits 5 s for the QR code on create (qrcode:true) and 2 s on connect; the
    #: simulator waits this long instead, 0 by default so tests stay fast.
    qr_wait_seconds: float = Field(0.0, ge=0)
    #: SERVER_URL: the envelope's ``server_url``. The CLI sets it from --host/--port.
    server_url: str = "http://127.0.0.1:8080"
    #: AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES: when true the envelope's ``apikey`` is the
    #: instance token, else null (Evolution's default).
    expose_in_fetch_instances: bool = False
    #: A webhook every startup instance gets (all events), as if set with /webhook/set.
    webhook_url: str | None = None
    #: WEBHOOK_RETRY_MAX_ATTEMPTS: Evolution's default, 10 posts per event at most.
    webhook_retry_max_attempts: int = Field(10, ge=1)
    #: WEBHOOK_RETRY_INITIAL_DELAY_SECONDS (5 s in Evolution), doubled per failed attempt.
    webhook_retry_initial_delay_ms: float = Field(5000.0, ge=0)
    #: WEBHOOK_RETRY_MAX_DELAY_SECONDS: Evolution caps the doubling at 300 s.
    webhook_retry_max_delay_ms: float = Field(300_000.0, ge=0)
    #: WEBHOOK_RETRY_JITTER_FACTOR: each retry delay moves by up to +/- 20 %, as Evolution's.
    webhook_retry_jitter_ratio: float = Field(0.2, ge=0, le=1)
    #: WEBHOOK_REQUEST_TIMEOUT_MS: Evolution's axios timeout, 30 s.
    webhook_timeout_ms: float = Field(30_000.0, gt=0)

    def updated(self, changes: dict[str, Any]) -> SimConfig:
        """A validated copy with ``changes`` applied (raises pydantic.ValidationError)."""
        return SimConfig.model_validate({**self.model_dump(), **changes})


InstanceState = Literal["open", "connecting", "close"]


class InstanceChanges(BaseModel):
    """The body of ``POST /_sim/instances/{name}``: knob overrides, the connection_closed
    switch, a state change, or ``reset`` (drop every override first). Strict types: "yes" is
    not a bool."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    reset: bool = False
    connection_closed: bool | None = None
    state: InstanceState | None = None
    latency_ms: float | None = Field(None, ge=0)
    latency_jitter_ms: float | None = Field(None, ge=0)
    fail_5xx_rate: Rate | None = Field(None, ge=0, le=1)
    connection_closed_rate: Rate | None = Field(None, ge=0, le=1)
    timeout_rate: Rate | None = Field(None, ge=0, le=1)
    media_upload_fail_rate: Rate | None = Field(None, ge=0, le=1)
    ack_delays_ms: dict[str, float] | None = None
    ack_probabilities: dict[str, float] | None = None
    webhook_shuffle: bool | None = None
    webhook_duplicate_rate: Rate | None = Field(None, ge=0, le=1)

    def overrides(self) -> dict[str, Any]:
        """The knob overrides this change sets (the fields of Knobs that were given)."""
        return {name: getattr(self, name) for name in KNOB_NAMES if name in self.model_fields_set}


def effective_knobs(config: SimConfig, overrides: dict[str, Any]) -> Knobs:
    """The knobs an instance runs with: the global ones, then its overrides (validated)."""
    return Knobs.model_validate(
        {name: overrides.get(name, getattr(config, name)) for name in KNOB_NAMES}
    )


def parse_instance(spec: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:TOKEN`` (the --instance flag)."""
    name, _, token = spec.partition(":")
    if not name:
        raise ValueError(f"instance {spec!r} has no name")
    return name, token or None
