"""Instance lifecycle for an operator (contract section 6) and the events it posts (section 5)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sim.conftest import Evolution, set_webhook
from tests.sim.receiver import Receiver, wait_until
from tests.sim_fixture import SimControl

CREATE = {"instanceName": "fresh", "integration": "WHATSAPP-BAILEYS"}
NO_RECEIPTS = {"SERVER_ACK": 0, "DELIVERY_ACK": 0, "READ": 0}


def _state(evo: Evolution, name: str) -> str:
    return str(evo.call("GET", f"/instance/connectionState/{name}").json()["instance"]["state"])


def _connection_states(receiver: Receiver) -> list[tuple[Any, ...]]:
    return [
        (post["data"]["state"], post["data"]["statusReason"])
        for post in receiver.events("connection.update")
    ]


def test_create_with_a_webhook_and_a_qr_code_then_open(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(connect_delay_seconds=0.1)
    webhook = {"url": receiver.url, "enabled": False, "events": [], "byEvents": False}
    body = {**CREATE, "qrcode": True, "number": "5511999990000", "webhook": webhook}
    data = evo.call("POST", "/instance/create", json=body).json()
    assert data["qrcode"]["pairingCode"], "a number gives a pairing code"
    row = evo.call("GET", "/webhook/find/fresh", key=data["hash"]).json()
    assert (row["enabled"], len(row["events"])) == (True, 31), "create forces enabled: true"
    receiver.wait_count(1, "instance.create")
    receiver.wait_count(2, "connection.update")
    [created] = receiver.events("instance.create")
    assert created["data"] == {
        "instanceName": "fresh",
        "instanceId": data["instance"]["instanceId"],
    }
    assert "sender" not in created, "no JID before the first connection"
    [qr] = receiver.events("qrcode.updated")
    assert qr["data"]["qrcode"] == {
        "instance": "fresh",
        "pairingCode": data["qrcode"]["pairingCode"],
        "code": data["qrcode"]["code"],
        "base64": data["qrcode"]["base64"],
    }
    assert _connection_states(receiver) == [("connecting", 200), ("open", 200)]
    opened = receiver.events("connection.update")[1]["data"]
    [row] = evo.call("GET", "/instance/fetchInstances", params={"instanceName": "fresh"}).json()
    assert opened["wuid"] == row["ownerJid"]
    assert row["ownerJid"].endswith("@s.whatsapp.net")
    assert (opened["instance"], opened["profileName"], opened["profilePictureUrl"]) == (
        "fresh",
        "fresh",
        None,
    )


def test_owner_jid_is_stable_per_instance(sim: SimControl, evo: Evolution) -> None:
    sim.configure(instances={"a": None, "b": None})
    first = {r["name"]: r["ownerJid"] for r in evo.call("GET", "/instance/fetchInstances").json()}
    sim.reset(config=False)
    again = {r["name"]: r["ownerJid"] for r in evo.call("GET", "/instance/fetchInstances").json()}
    assert first == again
    assert first["a"] != first["b"]


def test_logout_emits_status_logout_and_close(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    set_webhook(evo, receiver.url)
    assert evo.call("DELETE", "/instance/logout/zapq").status_code == 200
    receiver.wait_count(3)
    events = [post["event"] for post in receiver.events()]
    assert events == ["status.instance", "logout.instance", "connection.update"]
    status, logout, closed = receiver.events()
    assert (status["data"]["status"], status["data"]["disconnectionReasonCode"]) == ("closed", 401)
    assert logout["data"] is None
    assert closed["data"] == {"instance": "zapq", "state": "close", "statusReason": 401}


def test_delete_logs_out_then_emits_delete_and_remove(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    set_webhook(
        evo, receiver.url, events=["CONNECTION_UPDATE", "INSTANCE_DELETE", "REMOVE_INSTANCE"]
    )
    instance_id = sim.instance("zapq")["id"]
    assert evo.call("DELETE", "/instance/delete/zapq").status_code == 200
    receiver.wait_count(3)
    assert {post["event"] for post in receiver.events()} == {
        "connection.update",
        "instance.delete",
        "remove.instance",
    }
    [deleted] = receiver.events("instance.delete")
    assert deleted["data"] == {"instanceName": "zapq", "instanceId": instance_id}


def test_restart(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(connect_delay_seconds=0.1)
    set_webhook(evo, receiver.url, events=["CONNECTION_UPDATE"])
    response = evo.call("POST", "/instance/restart/zapq")
    assert (response.status_code, response.json()) == (200, {"count": 0}), "no new QR needed"
    receiver.wait_count(2)
    assert _connection_states(receiver) == [("connecting", 200), ("open", 200)]
    evo.call("DELETE", "/instance/logout/zapq")
    closed = evo.call("POST", "/instance/restart/zapq")
    assert (closed.status_code, closed.json()) == (
        200,
        {"error": True, "message": "[object Object]"},
    )


def test_state_knob_emits_connection_updates(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(connect_delay_seconds=0.1)
    set_webhook(evo, receiver.url, events=["CONNECTION_UPDATE"])
    sim.instance("zapq", state="connecting")
    receiver.wait_count(2)
    sim.instance("zapq", state="close")
    receiver.wait_count(3)
    assert _connection_states(receiver) == [("connecting", 200), ("open", 200), ("close", 401)]
    wait_until(lambda: _state(evo, "zapq") == "close", "the close")


def test_connect_after_logout_issues_a_new_qr(
    sim: SimControl, evo: Evolution, receiver: Receiver
) -> None:
    sim.configure(connect_delay_seconds=0.1)
    evo.call("DELETE", "/instance/logout/zapq")
    set_webhook(evo, receiver.url, events=["QRCODE_UPDATED"])
    qr = evo.call("GET", "/instance/connect/zapq").json()
    assert (qr["count"], qr["pairingCode"]) == (1, None)
    receiver.wait_count(1)
    wait_until(lambda: _state(evo, "zapq") == "open", "the QR scan")


def test_inbound_emits_messages_upsert(sim: SimControl, evo: Evolution, receiver: Receiver) -> None:
    sim.configure(ack_probabilities=NO_RECEIPTS)
    set_webhook(evo, receiver.url)
    message = sim.inbound("quero a segunda via", sender="5511912345678", pushName="Maria")
    [post] = receiver.wait_count(1)
    assert post["event"] == "messages.upsert"
    assert post["data"] == message
    assert message["key"]["remoteJid"] == "5511912345678@s.whatsapp.net"
    assert message["key"]["fromMe"] is False
    assert len(message["key"]["id"]) == 32
    assert (message["pushName"], message["message"]) == (
        "Maria",
        {"conversation": "quero a segunda via"},
    )
    assert (message["messageType"], message["source"]) == ("conversation", "android")
    assert message["instanceId"] == sim.instance("zapq")["id"]
    assert isinstance(message["messageTimestamp"], int)


def test_inbound_errors(sim: SimControl, evo: Evolution) -> None:
    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{sim.url}/_sim/inbound", json=body)

    assert post({"instance": "nope", "from": "5511", "text": "x"}).status_code == 404
    missing = post({"instance": "zapq", "from": "5511"})
    assert (missing.status_code, "text" in missing.json()["error"]) == (400, True)
    assert post({"instance": "zapq", "from": "+55 11", "text": "x"}).status_code == 400
    assert post({"instance": "zapq", "from": "5511", "text": "x", "extra": 1}).status_code == 400
    evo.call("DELETE", "/instance/logout/zapq")
    assert post({"instance": "zapq", "from": "5511", "text": "x"}).status_code == 409
