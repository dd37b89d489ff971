"""Opt-out: by keyword (Evolution's messages.upsert), by the API; refused at POST /v1/messages
(one by one in a batch); a message queued before the opt-out ends cancelled, unsent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.callbacks.evolution import fold, is_opt_out, phone_of_jid
from service.queue.callbacks import CallbackQueue
from service.queue.models import NewMessage
from service.queue.receipts import Lifecycle
from service.queue.store import MessageQueue
from tests.lifecycle.conftest import envelope, post
from tests.queue.conftest import POOL

KEY = {"Authorization": "Bearer test-key"}
KEYWORDS = ("SAIR", "PARAR", "CANCELAR", "STOP", "DESCADASTRAR")


def upsert(text: str, jid: str = "5511987654321@s.whatsapp.net", **key: Any) -> dict[str, Any]:
    data = {
        "key": {"remoteJid": jid, "fromMe": False, "id": "A0B1C2", **key},
        "pushName": "Maria",
        "message": {"conversation": text},
        "messageType": "conversation",
    }
    return envelope("messages.upsert", data)


@pytest.mark.parametrize("text", ["SAIR", "sair", " Sair! ", "párar", "Descadastrar.", "stop"])
def test_keywords_match_the_whole_message_ignoring_case_and_accents(text: str) -> None:
    assert is_opt_out(text, KEYWORDS)


@pytest.mark.parametrize("text", ["quero sair", "SAIR DAQUI", "", "sai", "s a i r"])
def test_other_messages_are_not_opt_outs(text: str) -> None:
    assert not is_opt_out(text, KEYWORDS)


def test_fold_and_jids() -> None:
    assert fold(" Não! ") == "nao"
    # A Brazilian mobile WhatsApp knows without its ninth digit gets it back.
    assert phone_of_jid("553188887777@s.whatsapp.net", "BR") == "5531988887777"
    assert phone_of_jid("5511987654321:12@s.whatsapp.net", "BR") == "5511987654321"
    assert phone_of_jid("120363041967849074@g.us", "BR") is None


async def test_opt_out_by_keyword_suppresses_and_reports(
    client: httpx.AsyncClient, queue: MessageQueue
) -> None:
    response = await post(client, upsert("Sair"))
    assert response.json()["outcomes"] == ["opted_out"]
    again = await post(client, upsert("SAIR"))  # already on the list: reported once
    listed = (await client.get("/v1/suppressions", headers=KEY)).json()
    assert listed["total"] == 1
    assert listed["items"][0] | {"opted_out_at": None} == {
        "phone": "5511987654321",
        "opted_out_at": None,
        "source": "keyword",
        "keyword": "Sair",
    }
    events = (await CallbackQueue(queue).claim(10, 30_000, 10)).events
    assert sorted(e.type for e in events) == [
        "inbound.message",
        "inbound.message",
        "recipient.opted_out",
    ]
    [opted_out] = [e for e in events if e.type == "recipient.opted_out"]
    assert opted_out.data == {"source": "keyword", "keyword": "Sair"}
    assert events[0].data == {
        "text": "Sair",
        "push_name": "Maria",
        "instance": "zapq",
        "provider_message_id": "A0B1C2",
        "opted_out": True,
    }
    assert again.json()["outcomes"] == ["opted_out"]


async def test_replies_and_our_own_messages(client: httpx.AsyncClient, queue: MessageQueue) -> None:
    reply = await post(client, upsert("quero sair amanhã"))
    own = await post(client, upsert("SAIR", fromMe=True))
    group = await post(client, upsert("SAIR", jid="120363041967849074@g.us"))
    hidden = await post(
        client, upsert("SAIR", jid="12345@lid", remoteJidAlt="5511912345678@s.whatsapp.net")
    )
    assert [r.json()["outcomes"] for r in (reply, own, group, hidden)] == [
        ["received"],
        ["ignored"],
        ["ignored"],
        ["opted_out"],
    ]
    assert (await client.get("/v1/suppressions/5511987654321", headers=KEY)).status_code == 404
    assert (await client.get("/v1/suppressions/+55 11 91234-5678", headers=KEY)).status_code == 200


async def test_the_suppression_api(client: httpx.AsyncClient) -> None:
    created = await client.put("/v1/suppressions/11987654321", headers=KEY)
    again = await client.put("/v1/suppressions/+5511987654321", headers=KEY)
    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["phone"] == "5511987654321" and created.json()["source"] == "api"
    bad = await client.put("/v1/suppressions/123", headers=KEY)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "phone"
    assert (await client.delete("/v1/suppressions/11987654321", headers=KEY)).status_code == 204
    assert (await client.delete("/v1/suppressions/11987654321", headers=KEY)).status_code == 404
    assert (await client.get("/v1/suppressions", headers=KEY)).json() == {"total": 0, "items": []}
    assert (await client.get("/v1/suppressions")).status_code == 401


async def test_messages_to_an_opted_out_number_are_refused(client: httpx.AsyncClient) -> None:
    await client.put("/v1/suppressions/11987654321", headers=KEY)
    one = await client.post(
        "/v1/messages", json={"to": "+55 11 98765-4321", "text": "oi"}, headers=KEY
    )
    assert one.status_code == 422
    assert one.json()["error"] == "recipient_opted_out"
    assert one.json()["detail"][0]["field"] == "to"
    batch = await client.post(
        "/v1/messages/batch",
        json={"messages": [{"to": "11987654321", "text": "a"}, {"to": "11987650000", "text": "b"}]},
        headers=KEY,
    )
    results = batch.json()["results"]
    assert batch.json()["accepted"] == 1
    assert results[0]["status"] == "rejected"
    assert results[0]["errors"][0]["code"] == "recipient_opted_out"
    assert results[1]["status"] == "accepted"


async def test_a_message_queued_before_the_opt_out_ends_cancelled_unsent(
    queue: MessageQueue, lifecycle: Lifecycle, callbacks: CallbackQueue
) -> None:
    [result] = await queue.enqueue(
        [NewMessage(to="5511987654321", text="oi", callback_url="http://127.0.0.1:9/h")], "k"
    )
    await lifecycle.suppress("5511987654321", "")
    taken = await queue.take(1, 30, "test-worker", POOL)
    assert taken.claims == [] and [s.reason for s in taken.skipped] == ["cancelled"]
    record = await queue.get(result.message_id)
    assert record is not None and (record.status, record.error_class, record.attempts) == (
        "cancelled",
        "recipient_opted_out",
        0,
    )
    assert record.history[-1]["reason"] == "recipient_opted_out"
    [event] = (await callbacks.claim(10, 30_000, 10)).events
    assert (event.type, event.message_id) == ("message.cancelled", result.message_id)
