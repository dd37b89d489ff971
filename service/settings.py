"""zapq configuration: one Settings object of nested groups, read from the environment.

Environment variables use the prefix ``ZAPQ_`` and ``__`` between a group and its field, for example
``ZAPQ_REDIS_URL``, ``ZAPQ_EVOLUTION__BASE_URL`` or ``ZAPQ_WORKER__MAX_JOBS``. Lists are given
comma-separated (``ZAPQ_API_KEYS=key1,key2``, ``ZAPQ_WORKER__RETRY_DELAYS_SECONDS=300,1500,7200``).
Every duration carries its unit in its name; the README's configuration table lists them all.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.config_errors import SettingProblem
from service.redis import parse_redis_url


def _split_commas(value: Any) -> Any:
    """Accept ``"a, b"`` (or a JSON list) as well as a list: env vars give lists comma-separated."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        return json.loads(value)
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _non_negative(value: list[float]) -> list[float]:
    if any(delay < 0 for delay in value):
        raise ValueError("retry delays must be >= 0 seconds")
    return value


#: A retry schedule: seconds before retry 1, 2, 3 ... (comma-separated in the environment).
RetryDelays = Annotated[
    list[float], NoDecode, BeforeValidator(_split_commas), AfterValidator(_non_negative)
]


# An API key's scopes: send messages, read (and cancel) its own messages, operate the installation
# (dead letters, senders, suppressions, erasure, any tenant's messages).
Scope = Literal["messages:send", "messages:read", "admin"]
SCOPES: tuple[Scope, ...] = ("messages:send", "messages:read", "admin")
# A key's name is its tenant: stored on every message it creates, in audit lines and Redis keys.
KEY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


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


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown time zone (an IANA name such as America/Sao_Paulo)") from exc
    return value


# A sender's name is a metric label and part of Redis keys: short, and nothing that needs quoting.
SENDER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def _number(value: Any) -> Any:
    """JSON numbers only: "5" or true is not a rate (pydantic's lax mode would take them)."""
    if isinstance(value, str | bool):
        raise ValueError("must be a number")
    return value


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
        return None if value is None else _known_zone(value)

    _numbers = field_validator("rate_per_second", "burst", "daily_limit", mode="before")(_number)


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
        return _known_zone(value)

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


class MetricsSettings(BaseModel):
    # Port of each worker's /metrics, /healthz and /readyz server (the API serves /metrics itself).
    port: int = Field(9100, ge=0, le=65535)
    host: str = "0.0.0.0"


SourceKind = Literal["http", "file", "sql"]


class ScheduleSettings(BaseModel):
    # Which source module reads the charges: the billing system's JSON API, a CSV / JSON Lines
    # file, or a read-only SQL query.
    source: SourceKind = "http"
    # http: the charges endpoint (first page). file: a local path or an http(s) URL.
    source_url: str = ""
    # Sent as "Authorization: Bearer <token>" (header and scheme configurable in the rules file).
    source_token: SecretStr = SecretStr("")
    # sql: a SQLAlchemy URL, e.g. postgresql+psycopg://reader:pw@db/billing (read-only role).
    database_url: SecretStr = SecretStr("")
    # The rules file (YAML, mounted from a ConfigMap). Empty: the built-in classic rules.
    rules_file: str = ""
    # Run dates, allowed hours and send windows are in this zone (IANA name).
    time_zone: str = "America/Sao_Paulo"
    # Messages per enqueue call: one atomic Lua round trip each; 500 keeps every call a few ms of
    # Redis time so that API requests are never stuck behind the scheduler.
    enqueue_chunk_size: int = Field(500, ge=1, le=5000)
    # An idempotency key lives until its message expires (the end of its send window) plus this:
    # no run can enqueue a message after its window ends, so a key that outlives the window by a
    # day survives any retried Job, overlapping run or clock skew between pods.
    dedupe_margin_seconds: int = Field(86_400, ge=0)
    # How long a run waits for the queue's backpressure to ease (api.max_ready_messages,
    # api.max_redis_memory_ratio, a full Redis) before it fails with queue_full: half the Job's
    # activeDeadlineSeconds (3,600), so that a run that gives up still writes its summary. A wait
    # also ends when a message of the waiting chunk would expire.
    queue_full_wait_seconds: float = Field(1800.0, ge=0)
    # Per request to the source; a billing API page of 1,000 charges answers in well under 5 s.
    source_timeout_seconds: float = Field(30.0, gt=0)
    # Attempts per source request on transport errors and 5xx / 429 before the run fails.
    source_attempts: int = Field(3, ge=1, le=10)
    # Delay before the 2nd attempt, doubled for each further one (1 s, 2 s, ...).
    source_retry_delay_seconds: float = Field(1.0, ge=0)
    # Progress log lines in a pod (no terminal) come this often; a terminal gets a live bar.
    progress_interval_seconds: float = Field(10.0, gt=0)
    # Rendered messages `--dry-run` prints (phones masked).
    dry_run_sample_size: int = Field(5, ge=0, le=100)
    # A billing system always has open charges, so reading none means a broken source or filter
    # and fails the run; set true where an empty day is normal.
    allow_empty_source: bool = False
    # Pushgateway base URL for the run's zapq_schedule_* counters (empty: not pushed; the run's
    # last-run hash in Redis already drives the missed-run alert).
    pushgateway_url: str = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)


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
        return _split_commas(value)

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
        return _split_commas(value)


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
        return _split_commas(value)

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
