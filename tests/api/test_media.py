"""Message kinds through the API: media messages accepted, and every invalid body refused with the
field named and nothing enqueued."""

from __future__ import annotations

import base64

import httpx
import pytest
from redis.asyncio import Redis

from service.queue import keys

TO = "+55 11 98765-4321"
PDF = base64.b64encode(b"%PDF-1.4 boleto " * 64).decode()


async def test_document_by_url(client: httpx.AsyncClient) -> None:
    body = {
        "to": TO,
        "kind": "media",
        "text": "Seu boleto",
        "media": {
            "mediatype": "document",
            "media": "https://billing.example/boletos/1234.pdf?sig=abc",
            "mimetype": "application/pdf",
            "file_name": "boleto-1234.pdf",
        },
    }
    created = await client.post("/v1/messages", json=body)
    assert created.status_code == 202, created.text
    message = created.json()
    assert message["kind"] == "media"
    assert message["media"] == {
        "mediatype": "document",
        "url": "https://billing.example/boletos/1234.pdf?sig=abc",
        "mimetype": "application/pdf",
        "file_name": "boleto-1234.pdf",
    }


async def test_base64_is_stored_but_never_echoed(client: httpx.AsyncClient) -> None:
    body = {
        "to": TO,
        "kind": "media",
        "media": {"mediatype": "document", "media": PDF, "file_name": "b.pdf"},
    }
    created = await client.post("/v1/messages", json=body)
    assert created.status_code == 202, created.text
    assert created.json()["media"]["url"] is None
    assert PDF not in (await client.get(f"/v1/messages/{created.json()['id']}")).text


@pytest.mark.parametrize(
    ("media", "text", "field", "fragment"),
    [
        ({"mediatype": "document", "media": PDF}, "", "media.file_name", "base64 document"),
        ({"mediatype": "sticker", "media": "https://x.example/a"}, "", "media.mediatype", "image"),
        ({"mediatype": "image", "media": "http://x.example/a.jpg"}, "", "media.media", "https"),
        ({"mediatype": "image", "media": "data:image/png;base64,AAAA"}, "", "media.media", "data:"),
        ({"mediatype": "image", "media": "not base64!"}, "", "media.media", "base64"),
        ({"mediatype": "audio", "media": "https://x.example/a.ogg"}, "oi", "text", "caption"),
        (
            {"mediatype": "image", "media": "https://x.example/a", "mimetype": "png"},
            "",
            "media.mimetype",
            "pattern",
        ),
        ({"media": "https://x.example/a"}, "", "media.mediatype", "required"),
    ],
)
async def test_invalid_media_is_named(
    client: httpx.AsyncClient,
    redis: Redis,
    media: dict[str, str],
    text: str,
    field: str,
    fragment: str,
) -> None:
    body = {"to": TO, "kind": "media", "text": text, "media": media}
    response = await client.post("/v1/messages", json=body)
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["message"] for e in response.json()["detail"]}
    assert field in errors and fragment in errors[field], errors
    assert await redis.zcard(keys.DEFAULT.queue) == 0


async def test_oversize_base64_is_refused(client: httpx.AsyncClient, redis: Redis) -> None:
    big = base64.b64encode(b"x" * (1024 * 1024 + 3)).decode()  # api.max_media_bytes is 1 MiB
    body = {"to": TO, "kind": "media", "media": {"mediatype": "image", "media": big}}
    response = await client.post("/v1/messages", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["field"] == "media.media" and "send a URL instead" in error["message"]
    assert await redis.zcard(keys.DEFAULT.queue) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "media"}, "media"),
        (
            {
                "kind": "text",
                "text": "oi",
                "media": {"mediatype": "image", "media": "https://a.b/c"},
            },
            "media",
        ),
        ({"kind": "video", "text": "oi"}, "kind"),
    ],
)
async def test_kind_and_media_must_agree(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    response = await client.post("/v1/messages", json={"to": TO, **body})
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["detail"]}


async def test_batch_rejects_bad_media_items_alone(client: httpx.AsyncClient) -> None:
    good = {
        "to": TO,
        "kind": "media",
        "media": {"mediatype": "image", "media": "https://a.b/c.jpg"},
    }
    bad = {"to": TO, "kind": "media", "media": {"mediatype": "document", "media": PDF}}
    body = (await client.post("/v1/messages/batch", json={"messages": [good, bad]})).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    [error] = body["results"][1]["errors"]
    assert (error["field"], error["message"]) == (
        "media.file_name",
        "required for a base64 document",
    )
