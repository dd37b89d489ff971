"""``ZAPQ_OPERATOR__*``: `zapq operator` (docs/operator.md)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from service.settings.types import split_commas


class OperatorSettings(BaseModel):
    """`zapq operator`: the kopf operator of WhatsAppInstance resources (docs/operator.md)."""

    # zapq's inbound webhook as Evolution reaches it, set on every instance, e.g.
    # http://zapq-api.zapq.svc:8000/v1/webhooks/evolution. Required by `zapq operator`.
    webhook_url: str = Field("", pattern=r"^(https?://.+)?$")
    # Namespaces whose WhatsAppInstances it manages; empty: every namespace (cluster-wide, which
    # needs a ClusterRole). The chart sets its own namespace.
    namespaces: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # How often each instance's connection state is read from Evolution: a QR scan or a dropped
    # session is seen within this; one small GET per instance per period.
    state_interval_seconds: float = Field(5.0, ge=0.5, le=3600)
    # Wait before retrying a call that Evolution (or Redis) did not answer, or answered 5xx: a
    # restarting Evolution is back within seconds; 10 s keeps an outage from becoming a storm.
    retry_delay_seconds: float = Field(10.0, gt=0, le=3600)
    # On delete: how often it checks whether the paused sender's in-flight sends ended. They end
    # within the worker's job timeout, so a few seconds between looks is plenty.
    drain_poll_seconds: float = Field(2.0, gt=0, le=300)
    # The Secret (one per namespace, owned by the operator) holding each instance's QR code and
    # pairing code; its one name lets RBAC grant patch on it and on no other Secret.
    qr_secret_name: str = Field(
        "zapq-whatsapp-qrcodes", pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
    )
    # Kubernetes watches that go silent without closing are a known kopf issue: the API server is
    # asked to end each watch after this long (kopf then lists and watches again) ...
    watch_server_timeout_seconds: int = Field(300, ge=10, le=3600)
    # ... and the client gives up on a watch that long with no event or end (a little more).
    watch_client_timeout_seconds: int = Field(330, ge=10, le=3900)
    # Post Kubernetes Events for handler outcomes (kubectl describe shows them).
    post_events: bool = True
    # Port of kopf's liveness endpoint (/healthz), for the pod's probes; 0 disables it.
    health_port: int = Field(8080, ge=0, le=65535)

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_commas(value)
