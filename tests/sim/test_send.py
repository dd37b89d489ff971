"""Contract sections 3 and 4: the 201 body, the number lookup, and what /_sim records."""

from __future__ import annotations

import re
import time
import uuid

from tests.sim.conftest import Evolution, envelope
from tests.sim_fixture import SimControl

BODY = {"number": "5511987650000", "text": "oi teste"}


def test_201_body(evo: Evolution) -> None:
    before = int(time.time())
    response = evo.send(BODY)
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {
        "key",
        "pushName",
        "status",
        "message",
        "messageType",
        "messageTimestamp",
        "instanceId",
        "source",
    }
    assert data["key"]["remoteJid"] == "5511987650000@s.whatsapp.net"
    assert data["key"]["fromMe"] is True
    assert re.fullmatch(r"3EB0[0-9A-F]{36}", data["key"]["id"])
    assert (data["status"], data["pushName"], data["source"]) == ("PENDING", "Você", "unknown")
    assert data["message"] == {"conversation": "oi teste"}
    assert data["messageType"] == "conversation"
    assert isinstance(data["messageTimestamp"], int)
    assert before <= data["messageTimestamp"] <= int(time.time())
    assert uuid.UUID(data["instanceId"]).version == 4


def test_number_not_on_whatsapp_is_a_400_with_the_lookup_object(
    sim: SimControl, evo: Evolution
) -> None:
    sim.configure(invalid_numbers=["+55 11 98765-0000"])
    response = evo.send(BODY)
    lookup = {"jid": "5511987650000@s.whatsapp.net", "exists": False, "number": "5511987650000"}
    assert (response.status_code, response.json()) == (
        400,
        envelope(400, "Bad Request", [lookup]),
    )
    assert sim.stats()["accepted"] == 0


def test_invalid_numbers_match_both_brazilian_forms(sim: SimControl, evo: Evolution) -> None:
    sim.configure(invalid_numbers=["5531987654321"])
    assert evo.send({**BODY, "number": "553187654321"}).status_code == 400
    assert evo.send({**BODY, "number": "5531987654321"}).status_code == 400


def test_unknown_group_is_404_group_not_found(sim: SimControl, evo: Evolution) -> None:
    sim.configure(invalid_numbers=["120363012345678901"])
    response = evo.send({**BODY, "number": "120363012345678901@g.us"})
    assert response.json() == envelope(404, "Not Found", ["Group not found"])
    response = evo.send({**BODY, "number": "120363099999999999@g.us"})
    assert response.json()["key"]["remoteJid"] == "120363099999999999@g.us"


def test_messages_and_counters(sim: SimControl, evo: Evolution) -> None:
    ids = [evo.send(BODY).json()["key"]["id"] for _ in range(2)]
    evo.send({**BODY, "text": "other"})
    evo.send({})
    evo.send(BODY, key=None)
    evo.send(BODY, instance="nope")
    stats = sim.stats()
    assert stats.pop("webhooks")["queued"] == 0, "no webhook configured"
    assert stats == {
        "received": 6,
        "by_status": {"201": 3, "400": 1, "401": 1, "404": 1},
        "accepted": 3,
        "duplicates": 1,
        "in_flight": 0,
        "max_in_flight": 1,
        # The 404 has no instance to be counted against.
        "by_instance": {
            "zapq": {"received": 5, "accepted": 3, "by_status": {"201": 3, "400": 1, "401": 1}}
        },
    }
    first = sim.messages()[0]
    assert first.pop("received_at") <= time.time()
    assert first == {
        "number": "5511987650000",
        "text": "oi teste",
        "key_id": ids[0],
        "remote_jid": "5511987650000@s.whatsapp.net",
        "instance": "zapq",
        "kind": "text",
    }
    assert [m["text"] for m in sim.messages(limit=1, offset=2)] == ["other"]
    assert [m["key_id"] for m in sim.messages(limit=2)] == ids


def test_reset_clears_counters_and_messages(sim: SimControl, evo: Evolution) -> None:
    sim.configure(latency_ms=1)
    evo.send(BODY)
    sim.reset(config=False)
    assert sim.stats()["received"] == sim.stats()["accepted"] == 0
    assert sim.messages() == []
    assert sim.configure()["latency_ms"] == 1, "a plain reset keeps the config"
    sim.reset()
    assert sim.configure()["latency_ms"] == 0


def test_delay_holds_the_response(evo: Evolution) -> None:
    started = time.monotonic()
    assert evo.send({**BODY, "delay": 300}).status_code == 201
    assert time.monotonic() - started >= 0.3
