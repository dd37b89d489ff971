"""``ZAPQ_API__*``: the HTTP API, its keys, scopes and quotas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.settings.types import KEY_NAME_PATTERN, Scope


class ApiKeySpec(BaseModel):
    """One API key of ``ZAPQ_API__KEYS`` (a JSON list): ``zapq keys new`` prints the entry. The
    secret itself is never configured, only its SHA-256."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=KEY_NAME_PATTERN)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = Field(min_length=1)
    # This key's quotas (default: api.requests_per_second / api.messages_per_day).
    requests_per_second: float | None = Field(None, gt=0, le=100_000)
    messages_per_day: int | None = Field(None, ge=1)


class ApiSettings(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(8000, ge=1, le=65535)
    # 4 MiB: a full batch of 1,000 typical notifications (~300 B each) is ~0.3 MiB; the limit
    # leaves room for long texts and metadata while bounding what one request can make the process
    # hold in memory.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    # The batch endpoint's item cap: one Redis round trip per batch keeps 1,000 items well under
    # 100 ms.
    max_batch_items: int = Field(1000, ge=1, le=10_000)
    # How long an idempotency key is remembered (per API key): 24 h covers a day's retries by any
    # client.
    idempotency_ttl_seconds: int = Field(86_400, ge=60)
    # Longest text accepted: WhatsApp's own limit for a text message is 4,096 characters.
    max_text_chars: int = Field(4096, ge=1, le=65_536)
    # Serialized metadata cap; metadata is stored with every message, so it is kept small.
    max_metadata_bytes: int = Field(4096, ge=0)
    # Largest base64 media (decoded): it is stored in Redis with the message until it is sent,
    # so 1 MiB (a boleto PDF is ~100 KB); larger files should be sent as an https URL.
    max_media_bytes: int = Field(1024 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Backpressure: above this many ready messages the API refuses new ones (503 queue_full) and
    # the scheduler waits. 1,000,000 is ~1 GB of Redis and hours of sending for a small pool: a
    # backlog past it means the workers cannot keep up, and refusing early keeps Redis from
    # filling up. 0: no limit.
    max_ready_messages: int = Field(1_000_000, ge=0)
    # ... and above this share of Redis's maxmemory (when Redis has one). The last 10 % is left for
    # what workers write while they send (history, sticky senders: ~0.2 KB per message) and for
    # the messages accepted between two readings (docs/operations.md).
    max_redis_memory_ratio: float = Field(0.9, gt=0, le=1)
    # Scoped API keys (JSON list of ApiKeySpec, from a Secret); ZAPQ_API_KEYS still works, as keys
    # with every scope named after their id.
    keys: list[ApiKeySpec] = Field(default_factory=list)
    # Default per-key quotas, shared by every API pod through Redis (None: unlimited). Requests
    # per second are counted on every authenticated request, refused with 429 and Retry-After.
    requests_per_second: float | None = Field(None, gt=0, le=100_000)
    # Requests that may arrive at once after an idle spell, on top of the per-second rate.
    request_burst: int = Field(20, ge=1, le=100_000)
    # Messages a key may enqueue per day (in pool.time_zone); 429 quota_exceeded past it.
    messages_per_day: int | None = Field(None, ge=1)
    # Request line + headers: 16 KiB (Node's default) holds any real client's headers and a key,
    # while the server would otherwise buffer whatever a client sends (431 past it).
    max_header_bytes: int = Field(16 * 1024, ge=1024, le=1024 * 1024)
    # Request bodies held by one process at once. A JSON body costs ~20x its size in memory once
    # parsed and validated (docs/api.md: two full 4 MiB batches peak at ~200 MB), so 8 MiB keeps a
    # 256 MiB pod inside its limit; a request waits for room (503 after 10 s).
    body_budget_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    # send_at / expires_at further than this from now are refused: a year covers any reminder,
    # and bounds every record's TTL and every date the API formats.
    max_schedule_days: int = Field(366, ge=1, le=3660)
    # Replace a message's text and media by nothing once it is final (sent, failed, expired,
    # cancelled; a dead letter keeps them until requeued or dropped): data minimisation (LGPD).
    drop_text_when_final: bool = False
    # Seed the sender pool from ZAPQ_SENDERS at start-up. The chart turns it off for the API:
    # the workers seed it, and the API then needs neither the senders nor the Evolution key.
    seed_senders: bool = True

    @field_validator("keys")
    @classmethod
    def _unique_keys(cls, value: list[ApiKeySpec]) -> list[ApiKeySpec]:
        if len({key.name for key in value}) != len(value):
            raise ValueError("key names must be unique (a name is a tenant)")
        if len({key.sha256 for key in value}) != len(value):
            raise ValueError("two keys have the same sha256")
        return value
