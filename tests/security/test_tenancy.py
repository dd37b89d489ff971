"""A message belongs to the key that created it: another tenant gets a 404 (no existence leak),
an admin key sees and cancels it (audited); idempotency keys are per tenant."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.security.conftest import VALID, auth


async def _create(client: httpx.AsyncClient, key: str, **extra: object) -> dict[str, object]:
    response = await client.post("/v1/messages", json={**VALID, **extra}, headers=auth(key))
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


async def test_other_tenant_gets_404(client: httpx.AsyncClient) -> None:
    created = await _create(client, "acme")
    url = f"/v1/messages/{created['id']}"
    assert (await client.get(url, headers=auth("acme"))).status_code == 200
    for method in ("GET", "DELETE"):
        response = await client.request(method, url, headers=auth("globex"))
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": f"no message {created['id']}"}
    assert (await client.get(url, headers=auth("acme"))).json()["status"] == "queued"


async def test_admin_reads_and_cancels_any_with_an_audit_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    created = await _create(client, "acme")
    url = f"/v1/messages/{created['id']}"
    assert (await client.get(url, headers=auth("ops"))).status_code == 200
    with caplog.at_level(logging.INFO, logger="zapq.audit"):
        response = await client.delete(url, headers=auth("ops"))
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    [line] = [r for r in caplog.records if r.name == "zapq.audit"]
    assert line.key == "ops" and line.action == "cancelMessage"  # type: ignore[attr-defined]
    assert line.status == 200 and line.params == {"message_id": created["id"]}  # type: ignore[attr-defined]


async def test_own_cancel_is_not_audited(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    created = await _create(client, "acme")
    with caplog.at_level(logging.INFO, logger="zapq.audit"):
        response = await client.delete(f"/v1/messages/{created['id']}", headers=auth("acme"))
    assert response.status_code == 200
    assert not [r for r in caplog.records if r.name == "zapq.audit"]


async def test_idempotency_keys_are_per_tenant(client: httpx.AsyncClient) -> None:
    first = await _create(client, "acme", idempotency_key="invoice-1")
    again = await client.post(
        "/v1/messages", json={**VALID, "idempotency_key": "invoice-1"}, headers=auth("acme")
    )
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == first["id"]
    other = await _create(client, "globex", idempotency_key="invoice-1")
    assert other["id"] != first["id"]


async def test_batch_messages_belong_to_their_key(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/messages/batch", json={"messages": [VALID, VALID]}, headers=auth("globex")
    )
    ids = [item["id"] for item in response.json()["results"]]
    for message_id in ids:
        url = f"/v1/messages/{message_id}"
        assert (await client.get(url, headers=auth("globex"))).status_code == 200
        assert (await client.get(url, headers=auth("acme"))).status_code == 404
