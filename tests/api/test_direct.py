"""The ingest routes' DirectRoute answers every request as FastAPI's own handling does.

The same corpus of requests (plain ones, and every kind of bad body, header and state) goes to
the app twice: as served, and with the direct path turned off (every request through FastAPI's
dependency solving and body handling). The answers must be the same; and the plain requests must
have taken the direct path (else the comparison proves nothing).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from redis.asyncio import Redis

from service.api.deps import SenderKey
from service.api.direct import DirectRoute
from service.api.schemas import BatchIn, BatchOut, MessageIn, MessageOut, message_json
from service.queue.keys import Priority
from service.queue.models import Content, Kind, Media, MediaType, MessageRecord, Status
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec

AUTH = {"Authorization": "Bearer test-key"}
V = {"to": "+5511987654321", "text": "oi"}
OPTED_OUT = "5511987650000"
_SOON = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT10:00:00")
_LATER = (datetime.now(UTC) + timedelta(days=31)).strftime("%Y-%m-%dT00:00:00")
_MEDIA = {"kind": "media", "to": V["to"], "text": "cap"}
_URL = {"mediatype": "image", "media": "https://example.com/a.png"}


def _j(value: Any) -> bytes:
    return json.dumps(value).encode()


SINGLE: list[tuple[bytes, dict[str, str]]] = [
    (_j(V), {}),
    (_j({**V, "priority": "urgent", "send_at": _SOON + "Z", "expires_at": _LATER + "+00:00"}), {}),
    (_j({**V, "metadata": {"a": 1, "b": "x", "c": None, "d": 1.5, "e": True}}), {}),
    (_j({**V, "idempotency_key": "k1", "callback_url": "https://example.com/cb"}), {}),
    (_j({**V, "sender": "s1"}), {}),
    (_j({**_MEDIA, "media": _URL}), {}),
    (_j(V), {"Idempotency-Key": "H1"}),
    (_j(V), {"Idempotency-Key": "H1"}),  # a replay
    (_j({**V, "text": "other"}), {"Idempotency-Key": "H1"}),  # a conflict
    (_j({**V, "idempotency_key": "x"}), {"Idempotency-Key": "y"}),
    (b"", {}),
    (b"{", {}),
    (b"   ", {}),
    (b"[]", {}),
    (b"null", {}),
    (_j(V) + b" x", {}),
    (b'{"to": "+5511987654321", "text": "\xff"}', {}),
    (b'{"to": "+5511987654321", "text": "\\ud800"}', {}),
    (b'{"to": "+5511987654321", "text": "oi", "metadata": {"a": NaN}}', {}),
    (b'{"to": "+5511987654321", "text": "a", "text": "b"}', {}),
    (b'\xef\xbb\xbf{"to": "+5511987654321", "text": "oi"}', {}),
    (_j({**V, "x": 1}), {}),
    (_j({"to": V["to"]}), {}),
    (_j({**V, "text": "   "}), {}),
    (_j({**V, "text": "x" * 5000}), {}),
    (_j({**V, "to": "123"}), {}),
    (_j({**V, "to": "11 98765-4321"}), {}),
    (_j({**V, "priority": "high"}), {}),
    (_j({**V, "send_at": _SOON}), {}),
    (_j({**V, "expires_at": "2020-01-01T00:00:00Z"}), {}),
    (_j({**V, "send_at": _LATER + "Z", "expires_at": _SOON + "Z"}), {}),
    (_j({**_MEDIA, "media": {"mediatype": "document", "media": "QUJD"}}), {}),
    (_j({**V, "kind": "other"}), {}),
    (_j({**V, "sender": "nope"}), {}),
    (_j({**V, "to": "+" + OPTED_OUT}), {}),
    (_j({**V, "metadata": {"a": {"b": 1}}}), {}),
    (_j({**V, "metadata": {"a": 2**70}}), {}),
    (_j(V), {"Idempotency-Key": ""}),
    (_j({**V, "to": 5}), {"Idempotency-Key": "k" * 256}),
    (_j({**V, "callback_url": "http://127.0.0.1/x"}), {}),
    (_j(V), {"Content-Type": "application/vnd.zapq+json"}),
    (_j(V), {"Content-Type": "application/json; charset=utf-8"}),
]
_MIXED = [V, {**V, "to": "nope"}, {"text": "no"}, {**V, "x": 1}, {**V, "sender": "nope"}]
BATCH: list[tuple[bytes, dict[str, str]]] = [
    (_j({"messages": [V, {**V, "priority": "low"}, {**V, "send_at": _SOON + "Z"}]}), {}),
    (_j({"messages": [*_MIXED, {**V, "to": "+" + OPTED_OUT}, {**V, "kind": "media"}]}), {}),
    (_j({"messages": [V, 5, "x"]}), {}),
    (_j({"messages": []}), {}),
    (_j({}), {}),
    (_j({"messages": [V], "x": 1}), {}),
    (_j([V]), {}),
    (_j({"messages": [V] * 1001}), {}),
    (b'{"messages": [', {}),
    (_j({"messages": [V, {**V, "idempotency_key": "own"}]}), {"Idempotency-Key": "B1"}),
    (_j({"messages": [V, {**V, "idempotency_key": "own"}]}), {"Idempotency-Key": "B1"}),
    (_j({"messages": [{**V, "text": "changed"}]}), {"Idempotency-Key": "B1"}),
    (_j({"messages": [{**V, "idempotency_key": "z"}, {**V, "idempotency_key": "z"}]}), {}),
    (_j({"messages": []}), {"Idempotency-Key": "k" * 256}),
    (_j({"messages": [{"to": "123", "text": "", "priority": "x"}]}), {}),
]
CASES = [("/v1/messages", *case) for case in SINGLE] + [
    ("/v1/messages/batch", *case) for case in BATCH
]
# Ids and times differ between the two runs.
_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


async def _answers(client: httpx.AsyncClient, app: Any, redis: Redis) -> list[tuple[Any, ...]]:
    await redis.flushdb()
    await SenderRegistry(app.state.queue).put(SenderSpec(name="s1", rate_per_second=10, burst=10))
    await redis.zadd(app.state.queue.keys.suppressed, {OPTED_OUT: 1})
    out = []
    for path, body, headers in CASES:
        answer = await client.post(
            path, content=body, headers={"Content-Type": "application/json", **headers}
        )
        kept = {
            k: v for k, v in answer.headers.items() if k in ("content-type", "idempotent-replayed")
        }
        out.append(
            (path, answer.status_code, kept, _ISO.sub("<t>", _ULID.sub("<id>", answer.text)))
        )
    return out


async def test_direct_answers_as_fastapi_does(
    app: Any, client: httpx.AsyncClient, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[bool] = []
    arguments = DirectRoute._arguments

    async def spied(self: DirectRoute, request: Request) -> dict[str, Any] | None:
        found = await arguments(self, request)
        served.append(found is not None)
        return found

    async def never(self: DirectRoute, request: Request) -> None:
        return None

    monkeypatch.setattr(DirectRoute, "_arguments", spied)
    direct = await _answers(client, app, redis)
    monkeypatch.setattr(DirectRoute, "_arguments", never)
    generic = await _answers(client, app, redis)
    for ours, fastapis in zip(direct, generic, strict=True):
        assert ours == fastapis
    assert len(served) == len(CASES)
    assert sum(served) >= 20, "the plain requests took the direct path"
    assert {answer[1] for answer in direct} >= {202, 400, 409, 422}


def _mutants(seed: int, count: int) -> list[bytes]:
    """Valid bodies with 1-3 random bytes inserted, deleted or replaced."""
    bases = [
        _j({**V, "text": "oi é\n", "metadata": {"a": 1.5, "b": -2, "c": None, "d": True}}),
        _j({"messages": [V, {**V, "priority": "low", "send_at": _SOON + "Z"}]}),
    ]
    alphabet = b'{}[]",:\\ \t\n0123456789.eE+-truefalsnNaIy/u\x00\x1f\x7f\xc3\xa9\xff\xef'
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        body = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body))
            action = rng.random()
            if action < 0.4:
                del body[at]
            elif action < 0.8:
                body.insert(at, rng.choice(alphabet))
            else:
                body[at] = rng.choice(alphabet)
        out.append(bytes(body))
    return out


@pytest.mark.parametrize("schema", [MessageIn, BatchIn], ids=["message", "batch"])
def test_pydantic_reads_a_body_as_fastapi_does(schema: Any) -> None:
    """What the direct path accepts (pydantic's JSON parser) FastAPI accepts too (json.loads,
    then the same validation), as the same value."""
    adapter: TypeAdapter[Any] = TypeAdapter(schema)
    accepted = 0
    for body in _mutants(11, 4000):
        try:
            ours = adapter.validate_json(body)
        except ValidationError:
            continue
        accepted += 1
        assert repr(adapter.validate_python(json.loads(body))) == repr(ours), body
    assert accepted > 200


def _record(**changes: Any) -> MessageRecord:
    base: dict[str, Any] = {
        "id": "01M8TDFSJZSVR6Q9DWMJ6688PX",
        "to": "5511987654321",
        "priority": Priority.NORMAL,
        "status": Status.QUEUED,
        "attempts": 0,
        "created_at_ms": 1_796_000_000_123,
        "expires_at_ms": 1_796_086_400_123,
        "ready_at_ms": 1_796_000_000_123,
        "send_at_ms": None,
        "next_attempt_at_ms": None,
        "provider_id": None,
        "remote_jid": None,
        "last_error": None,
        "error_class": None,
        "content": Content(text="oi"),
        "history": [{"status": "queued", "at_ms": 1_796_000_000_123}],
    }
    return MessageRecord(**{**base, **changes})


@pytest.mark.parametrize(
    "record",
    [
        _record(),
        _record(
            priority=Priority.URGENT,
            status=Status.SCHEDULED,
            send_at_ms=1_796_003_600_000,
            next_attempt_at_ms=1_796_003_600_000,
            pinned_sender="s1",
            callback_url="https://example.com/cb",
            content=Content(
                Kind.MEDIA,
                "cap",
                Media(MediaType.IMAGE, "https://example.com/a.png", "image/png", "a.png"),
                {"a": 1, "b": 1.5e300, "c": None, "d": "é", "e": True, "f": float("nan")},
                "api",
                "key-1",
            ),
        ),
        _record(content=Content(Kind.MEDIA, "", Media(MediaType.DOCUMENT, "QUJD", None, "b.pdf"))),
        _record(
            status=Status.SENT,
            attempts=2,
            provider_id="3EB0",
            sender="s2",
            error_class="timeout",
            last_error="late",
            delivered_at_ms=1_796_000_500_000,
            read_at_ms=1_796_000_600_000,
            history=[
                {"status": "queued", "at_ms": 1_796_000_000_000},
                {"status": "sending", "at_ms": 1_796_000_000_100, "attempt": 1, "sender": "s1"},
                {"status": "queued", "at_ms": 1_796_000_000_200, "rerouted_from": "s1"},
                {"status": "cancelled", "at_ms": 1_796_000_000_300, "reason": "x"},
            ],
        ),
        _record(created_at_ms=-5, expires_at_ms=10**17, send_at_ms=0),  # clamped dates
    ],
)
def test_message_json_is_the_models_answer(record: MessageRecord) -> None:
    assert message_json(record) == MessageOut.of(record).model_dump_json().encode()


async def test_batch_answer_is_a_batch_out(client: httpx.AsyncClient) -> None:
    items = [V, {**V, "to": "nope"}, {**V, "sender": "nope"}, {"text": "no", "x": 1}]
    answer = await client.post("/v1/messages/batch", json={"messages": items})
    assert answer.status_code == 202
    assert BatchOut.model_validate_json(answer.content).model_dump_json().encode() == answer.content


async def _extra(request: Request, body: MessageIn, principal: SenderKey, other: int) -> None:
    return None


async def _unscoped(request: Request, body: MessageIn) -> None:
    return None


@pytest.mark.parametrize("endpoint", [_extra, _unscoped])
def test_a_direct_route_takes_only_what_it_can_pass(endpoint: Callable[..., Any]) -> None:
    with pytest.raises(TypeError, match="DirectRoute"):
        APIRouter().add_api_route(
            "/x", endpoint, methods=["POST"], route_class_override=DirectRoute
        )
