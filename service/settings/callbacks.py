"""``ZAPQ_CALLBACKS__*``: client callbacks and opt-outs (docs/callbacks.md)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from service.settings.types import KEY_NAME_PATTERN, RetryDelays, split_commas


def _default_retry_delays() -> list[float]:
    # Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h (about 17.6 h in all) rides out a
    # receiver's deploy, an outage of an afternoon, a night.
    return [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0]


class CallbackSettings(BaseModel):
    """Client callbacks (signed webhooks to the client's systems) and opt-out; docs/callbacks.md."""

    # Where a message's events go when the request names no callback_url (empty: none).
    default_url: str = ""
    # Per API key: {"<key name>": "https://..."}: the name of a ZAPQ_API__KEYS entry, or for a
    # plain ZAPQ_API_KEYS key the first 16 hex characters of its SHA-256
    # (printf %s "$KEY" | sha256sum | cut -c1-16); wins over default_url.
    key_urls: dict[str, str] = Field(default_factory=dict)
    # Where inbound.message and recipient.opted_out go (empty: default_url).
    inbound_url: str = ""
    # Forward every customer reply as an inbound.message event.
    forward_inbound: bool = True
    # Standard Webhooks secret, "whsec_" + base64 of 24 to 64 random bytes. Empty: unsigned.
    signing_secret: SecretStr = SecretStr("")
    # During a rotation: the old secret; both signatures go on every request until it is removed.
    previous_signing_secret: SecretStr = SecretStr("")
    retry_delays_seconds: RetryDelays = Field(default_factory=_default_retry_delays)
    # Per request: a receiver should answer 2xx at once and work later; 10 s tolerates a slow one
    # without tying up delivery slots for long.
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    # Deliveries in flight to one endpoint, shared by every worker process (Redis counts them):
    # a receiver behind one small server is never flooded by a fleet of workers.
    endpoint_concurrency: int = Field(10, ge=1, le=1000)
    # Deliveries in flight per worker process (all endpoints): one shared HTTP client each.
    concurrency: int = Field(50, ge=1, le=1000)
    # Allow callback URLs whose address is loopback, private, link-local or otherwise not public
    # (the address the name resolves to is the one checked). Off: no callback reaches the
    # cluster's own services through zapq.
    allow_private_networks: bool = False
    # Put full phone numbers in callbacks (to, from); false masks them as the logs do
    # (55*******4321). An endpoint that acts on inbound replies needs them.
    full_phone_numbers: bool = False
    # A customer's message that is one of these, whole (case, accents, spaces and punctuation
    # around it ignored), puts the number on the suppression list.
    opt_out_keywords: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["SAIR", "PARAR", "CANCELAR", "STOP", "DESCADASTRAR"]
    )

    @field_validator("opt_out_keywords", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("default_url", "inbound_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not _HTTP_URL.match(value):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("key_urls")
    @classmethod
    def _key_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(KEY_NAME_PATTERN, name):
                raise ValueError("keys must be API key names")
        for url in value.values():
            if not _HTTP_URL.match(url):
                raise ValueError("values must be http:// or https:// URLs with a host")
        return value

    @field_validator("signing_secret", "previous_signing_secret")
    @classmethod
    def _whsec(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if secret and not _WHSEC.fullmatch(secret):
            raise ValueError("must be whsec_ followed by the base64 of >= 24 and <= 64 bytes")
        return value

    def url_for(self, tenant: str) -> str:
        """The endpoint of a message enqueued by API key ``tenant`` (its name) that names none."""
        return self.key_urls.get(tenant, self.default_url)

    @property
    def lease_seconds(self) -> float:
        """A delivery's lease: its request's timeout plus room for the recording round trips.
        A worker that dies mid-delivery leaves the event to others once it runs out."""
        return self.timeout_seconds + 10


_HTTP_URL = re.compile(r"^https?://[^/?#\s]+")
# 24 to 64 bytes of base64: 32 to 88 characters (Standard Webhooks secrets are 24-64 bytes).
_WHSEC = re.compile(r"whsec_[A-Za-z0-9+/]{32,88}={0,2}")
