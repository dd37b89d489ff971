"""Quotas per key, shared by two real `zapq api` processes through one Redis: a key's daily
messages and its request rate are counted once across both, whichever pod a request reaches."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.security.conftest import VALID, api_process, auth, key_entries

pytestmark = pytest.mark.slow


def _statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


async def _post_alternating(urls: list[str], key: str, count: int) -> list[httpx.Response]:
    responses = []
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(count):
            url = urls[index % len(urls)] + "/v1/messages"
            responses.append(await client.post(url, json=VALID, headers=auth(key)))
    return responses


async def test_daily_quota_is_shared_by_two_api_processes(
    redis_url: str, redis: object, tmp_path: Path
) -> None:
    keys = json.dumps(key_entries(messages_per_day=10))
    with (
        api_process(redis_url, tmp_path / "a.log", ZAPQ_API__KEYS=keys) as (a, _),
        api_process(redis_url, tmp_path / "b.log", ZAPQ_API__KEYS=keys) as (b, _),
    ):
        responses = await _post_alternating([a, b], "acme", 16)
        other = await _post_alternating([a, b], "globex", 2)
    assert _statuses(responses) == {202: 10, 429: 6}
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["error"] for r in refused} == {"quota_exceeded"}
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert "0 left today" in refused[0].json()["detail"]
    assert _statuses(other) == {202: 2}  # per key: another tenant has its own day


async def test_request_rate_is_shared_by_two_api_processes(
    redis_url: str, redis: object, tmp_path: Path
) -> None:
    # One request per 1,000 s and a burst of 3: exactly 3 pass while the test runs.
    keys = json.dumps(key_entries(requests_per_second=0.001))
    env = {"ZAPQ_API__KEYS": keys, "ZAPQ_API__REQUEST_BURST": "3"}
    with (
        api_process(redis_url, tmp_path / "a.log", **env) as (a, _),
        api_process(redis_url, tmp_path / "b.log", **env) as (b, _),
    ):
        responses = await _post_alternating([a, b], "acme", 8)
    assert _statuses(responses) == {202: 3, 429: 5}
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["error"] for r in refused} == {"rate_limited"}
    assert all(int(r.headers["retry-after"]) > 100 for r in refused)
