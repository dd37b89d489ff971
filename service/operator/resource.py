"""The WhatsAppInstance resource as the operator reads it (helm/zapq/crds/ has its schema).

The API server validates and defaults every resource against the CRD; the models here parse the
same fields again (camelCase, unknown fields refused) so that a resource the CRD would refuse,
on a cluster without CEL rules or in a test API server, ends as an InvalidSpec condition instead of
an exception. tests/operator/test_crd.py checks that the two agree (fields and defaults).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from service.settings import SENDER_NAME_PATTERN, SenderOptions

GROUP: Final = "zapq.io"
VERSION: Final = "v1alpha1"
PLURAL: Final = "whatsappinstances"
KIND: Final = "WhatsAppInstance"
#: What kopf writes in the resource: its finalizer and its progress / last-handled annotations.
ANNOTATIONS_PREFIX: Final = GROUP
FINALIZER: Final = f"{GROUP}/finalizer"

_DEFAULTS = SenderOptions.model_fields


class Phase(StrEnum):
    PENDING = "Pending"
    AWAITING_QR_CODE = "AwaitingQRCode"
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"
    ERROR = "Error"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, strict=True
    )


class SecretKeyRef(_Model):
    name: str = Field(min_length=1, max_length=253)
    key: str = Field(min_length=1, max_length=253)


class ServiceRef(_Model):
    name: str = Field(min_length=1, max_length=63)
    # Default: the resource's own namespace.
    namespace: str | None = None
    # Evolution's default port.
    port: int = Field(8080, ge=1, le=65535)
    scheme: Literal["http", "https"] = "http"


class EvolutionRef(_Model):
    url: str | None = Field(None, pattern=r"^https?://")
    service: ServiceRef | None = None
    # Evolution's global key (AUTHENTICATION_API_KEY); default: the operator's
    # ZAPQ_EVOLUTION__API_KEY.
    api_key_secret_ref: SecretKeyRef | None = None

    @model_validator(mode="after")
    def _one_endpoint(self) -> EvolutionRef:
        if (self.url is None) == (self.service is None):
            raise ValueError("evolution needs exactly one of url and service")
        return self

    def base_url(self, namespace: str) -> str:
        if self.url is not None:
            return self.url.rstrip("/")
        assert self.service is not None  # _one_endpoint
        svc = self.service
        return f"{svc.scheme}://{svc.name}.{svc.namespace or namespace}.svc:{svc.port}"


class Business(_Model):
    """A Cloud API number (integration WHATSAPP-BUSINESS)."""

    phone_number_id: str = Field(pattern=r"^[0-9]{5,32}$")
    business_id: str = Field(pattern=r"^[0-9]{5,32}$")
    access_token_secret_ref: SecretKeyRef


class InstanceSpec(_Model):
    instance_name: str | None = Field(None, pattern=SENDER_NAME_PATTERN)
    evolution: EvolutionRef
    integration: Literal["WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS"] = "WHATSAPP-BAILEYS"
    business: Business | None = None
    # Baileys: also ask for a pairing code for this number (digits, with country code).
    pairing_number: str | None = Field(None, pattern=r"^[0-9]{10,15}$")
    rate_per_second: float = Field(_DEFAULTS["rate_per_second"].default, gt=0, le=1000)
    burst: int = Field(_DEFAULTS["burst"].default, ge=1, le=1000)
    daily_limit: int | None = Field(None, ge=1)
    time_zone: str | None = None
    paused: bool = False
    delete_instance_on_removal: bool = False

    @model_validator(mode="after")
    def _business_fields(self) -> InstanceSpec:
        if (self.integration == "WHATSAPP-BUSINESS") != (self.business is not None):
            raise ValueError("business is required with, and only with, WHATSAPP-BUSINESS")
        return self


class Resource:
    """One WhatsAppInstance as a handler sees it: identity, parsed spec, current status."""

    def __init__(self, body: Any) -> None:
        meta = body.get("metadata", {})
        self.name: str = meta["name"]
        self.namespace: str = meta.get("namespace") or "default"
        self.generation: int | None = meta.get("generation")
        self.raw_spec: dict[str, Any] = dict(body.get("spec") or {})
        self.status: dict[str, Any] = dict(body.get("status") or {})

    def spec(self) -> InstanceSpec:
        """The parsed spec; a pydantic ValidationError when it is invalid."""
        return InstanceSpec.model_validate(self.raw_spec)

    @property
    def instance(self) -> str:
        """The Evolution instance (and sender) name: fixed at creation, in the status."""
        recorded = self.status.get("instanceName")
        if isinstance(recorded, str) and recorded:
            return recorded
        wanted = self.raw_spec.get("instanceName")
        return wanted if isinstance(wanted, str) and wanted else self.name

    @property
    def ever_connected(self) -> bool:
        return bool(self.status.get("connectedAt"))
