"""The simulator's behaviour knobs: one immutable SimConfig, swapped whole on every change.

Defaults describe a healthy Evolution server with no latency; `zapq dev` and the load tests add
latency and failures through the CLI flags or ``POST /_sim/config``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_API_KEY = "evo-key"
DEFAULT_INSTANCE = "zapq"


class SimConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Evolution's global AUTHENTICATION_API_KEY: accepted on every route.
    api_key: str = Field(DEFAULT_API_KEY, min_length=1)
    #: The instances that exist at start and after a reset, all connected ("open"): name -> its
    #: own token (the ``hash`` Evolution returns on create), or None for global-key-only access.
    instances: dict[str, str | None] = Field(
        default_factory=lambda: dict.fromkeys([DEFAULT_INSTANCE]), min_length=1
    )
    #: Added to every sendText that gets past validation: models the WhatsApp round trip.
    latency_ms: float = Field(0.0, ge=0)
    #: Latency is drawn uniformly from latency_ms +/- this (never below 0).
    latency_jitter_ms: float = Field(0.0, ge=0)
    #: Share of sendText answered 500 with a JavaScript TypeError message (string).
    fail_5xx_rate: float = Field(0.0, ge=0, le=1)
    #: Share of sendText answered 400 ["Error: Connection Closed"] (the Baileys socket dropped).
    connection_closed_rate: float = Field(0.0, ge=0, le=1)
    #: Share of sendText held for timeout_hang_seconds and then answered 201: the message WAS
    #: sent, only the answer is late (the client usually gave up long before).
    timeout_rate: float = Field(0.0, ge=0, le=1)
    #: 60 s outlasts any sane client read timeout, so a hung request reads as a client timeout.
    timeout_hang_seconds: float = Field(60.0, ge=0)
    #: Numbers that are not on WhatsApp (400 exists:false), compared on their digits.
    invalid_numbers: list[str] = Field(default_factory=list)
    #: Seeds the one random generator (failure draws, latency, ids): same seed, same run.
    seed: int | None = None
    #: How long /instance/connect takes from "connecting" to "open" (a QR scan, simulated).
    connect_delay_seconds: float = Field(1.0, ge=0)
    #: Evolution waits 5 s for the QR code on create (qrcode:true) and 2 s on connect; the
    #: simulator waits this long instead, 0 by default so tests stay fast.
    qr_wait_seconds: float = Field(0.0, ge=0)

    def updated(self, changes: dict[str, Any]) -> SimConfig:
        """A validated copy with ``changes`` applied (raises pydantic.ValidationError)."""
        return SimConfig.model_validate({**self.model_dump(), **changes})


def parse_instance(spec: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME:TOKEN`` (the --instance flag)."""
    name, _, token = spec.partition(":")
    if not name:
        raise ValueError(f"instance {spec!r} has no name")
    return name, token or None
