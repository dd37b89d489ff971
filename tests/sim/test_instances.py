"""Contract sections 6 and 7: instance routes and whatsappNumbers."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.sim.conftest import Evolution, envelope
from tests.sim_fixture import SimControl

CREATE = {"instanceName": "fresh", "integration": "WHATSAPP-BAILEYS", "qrcode": False}


def _state(evo: Evolution, name: str) -> str:
    response = evo.call("GET", f"/instance/connectionState/{name}")
    assert response.status_code == 200
    assert response.json()["instance"]["instanceName"] == name
    return str(response.json()["instance"]["state"])


def _wait_state(evo: Evolution, name: str, state: str) -> None:
    deadline = time.monotonic() + 5
    while _state(evo, name) != state:
        assert time.monotonic() < deadline, f"{name} never reached {state}"
        time.sleep(0.02)


def test_connection_state(evo: Evolution) -> None:
    response = evo.call("GET", "/instance/connectionState/zapq")
    assert response.json() == {"instance": {"instanceName": "zapq", "state": "open"}}
    assert evo.call("GET", "/instance/connectionState/nope").status_code == 404
    assert evo.call("GET", "/instance/connectionState/zapq", key=None).status_code == 401


def test_create_answers_201_with_the_instance_and_its_token(evo: Evolution) -> None:
    webhook = {"enabled": True, "url": "http://hook", "byEvents": False, "events": []}
    response = evo.call("POST", "/instance/create", json={**CREATE, "webhook": webhook})
    assert response.status_code == 201
    data = response.json()
    instance = data["instance"]
    assert instance["instanceName"] == "fresh"
    assert uuid.UUID(instance["instanceId"])
    assert (instance["integration"], instance["status"]) == ("WHATSAPP-BAILEYS", "close")
    assert (instance["webhookWaBusiness"], instance["accessTokenWaBusiness"]) == (None, "")
    assert isinstance(data["hash"], str) and data["hash"]
    assert data["webhook"] == {"webhookUrl": "http://hook", "webhookByEvents": False}
    assert data["settings"]["rejectCall"] is False and data["settings"]["msgCall"] == ""
    assert "qrcode" not in data
    assert _state(evo, "fresh") == "close"
    body = {"number": "5511987650000", "text": "oi"}
    assert evo.send(body, instance="fresh", key=data["hash"]).status_code == 500, "no socket"


def test_create_with_a_custom_token_and_qrcode(sim: SimControl, evo: Evolution) -> None:
    sim.configure(connect_delay_seconds=0.2)
    body = {**CREATE, "qrcode": True, "token": "my-token"}
    data = evo.call("POST", "/instance/create", json=body).json()
    assert data["hash"] == "my-token"
    assert data["instance"]["status"] == "connecting"
    assert data["qrcode"]["base64"].startswith("data:image/png;base64,")
    _wait_state(evo, "fresh", "open")
    assert (
        evo.send({"number": "5511987650000", "text": "oi"}, "fresh", "my-token").status_code == 201
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({**CREATE, "integration": "NOPE"}, 400, ["Invalid integration"]),
        ({"instanceName": "fresh"}, 400, ["Invalid integration"]),
        ({**CREATE, "qrcode": "yes"}, 400, ["qrcode is not of a type(s) boolean"]),
        ({"instanceName": ""}, 400, ['The "instanceName" cannot be empty']),
        (
            {**CREATE, "webhook": {"enabled": True, "url": "http://hook"}},
            400,
            ["Cannot read properties of undefined (reading 'length')"],
        ),
    ],
)
def test_create_errors(
    evo: Evolution, body: dict[str, object], status: int, message: object
) -> None:
    response = evo.call("POST", "/instance/create", json=body)
    assert (response.status_code, response.json()) == (
        status,
        envelope(status, "Bad Request", message),
    )


def test_connect_moves_close_to_connecting_to_open(sim: SimControl, evo: Evolution) -> None:
    sim.configure(connect_delay_seconds=0.2)
    evo.call("POST", "/instance/create", json=CREATE)
    qr = evo.call("GET", "/instance/connect/fresh").json()
    assert set(qr) == {"pairingCode", "code", "base64", "count"}
    assert _state(evo, "fresh") == "connecting"
    assert evo.call("GET", "/instance/connect/fresh").json()["code"] == qr["code"]
    _wait_state(evo, "fresh", "open")
    response = evo.call("GET", "/instance/connect/fresh")
    assert response.json() == {"instance": {"instanceName": "fresh", "state": "open"}}


def test_logout_and_delete(evo: Evolution) -> None:
    done = {"status": "SUCCESS", "error": False}
    response = evo.call("DELETE", "/instance/logout/zapq")
    assert response.json() == {**done, "response": {"message": "Instance logged out"}}
    assert _state(evo, "zapq") == "close"
    response = evo.call("DELETE", "/instance/logout/zapq")
    expected = envelope(400, "Bad Request", ['The "zapq" instance is not connected'])
    assert (response.status_code, response.json()) == (400, expected)
    sent = evo.send({"number": "5511987650000", "text": "oi"})
    assert (sent.status_code, sent.json()["response"]["message"]) == (500, "Connection Closed")
    response = evo.call("DELETE", "/instance/delete/zapq")
    assert response.json() == {**done, "response": {"message": "Instance deleted"}}
    assert evo.call("GET", "/instance/connectionState/zapq").status_code == 404


def test_fetch_instances(sim: SimControl, evo: Evolution) -> None:
    sim.configure(instances={"zapq": "tok-a", "other": "tok-b"})
    rows = evo.call("GET", "/instance/fetchInstances").json()
    assert [row["name"] for row in rows] == ["zapq", "other"]
    assert rows[0]["connectionStatus"] == "open" and rows[0]["token"] == "tok-a"
    assert rows[0]["_count"] == {"Message": 0, "Contact": 0, "Chat": 0}
    own = evo.call("GET", "/instance/fetchInstances", key="tok-b").json()
    assert [row["name"] for row in own] == ["other"]
    named = evo.call("GET", "/instance/fetchInstances", params={"instanceName": "zapq"})
    assert [row["name"] for row in named.json()] == ["zapq"]
    missing = evo.call("GET", "/instance/fetchInstances", params={"instanceName": "nope"})
    assert missing.json() == envelope(404, "Not Found", ['Instance "nope" not found'])
    assert evo.call("GET", "/instance/fetchInstances", key="wrong").status_code == 401


def test_whatsapp_numbers(sim: SimControl, evo: Evolution) -> None:
    sim.configure(invalid_numbers=["5511900000000"])
    numbers = ["5511900000000", "+55 31 98765-4321", "120363012345678901@g.us", "status@broadcast"]
    response = evo.call("POST", "/chat/whatsappNumbers/zapq", json={"numbers": numbers})
    assert response.status_code == 200
    assert response.json() == [
        {"jid": "status@broadcast", "exists": False, "number": "status@broadcast"},
        {"jid": "120363012345678901@g.us", "exists": True, "number": numbers[2]},
        {"jid": "5511900000000@s.whatsapp.net", "exists": False, "number": numbers[0]},
        {"jid": "553187654321@s.whatsapp.net", "exists": True, "number": numbers[1]},
    ]


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"numbers": []}, ["numbers does not meet minimum length of 1"]),
        ({"numbers": [5]}, ['"numbers" must be an array of numeric strings']),
        ({"numbers": ["1", "1"]}, ["numbers contains duplicate item"]),
    ],
)
def test_whatsapp_numbers_errors_are_the_raw_thrown_object(
    evo: Evolution, body: dict[str, object], answer: list[str]
) -> None:
    response = evo.call("POST", "/chat/whatsappNumbers/zapq", json=body)
    expected = {"status": 400, "error": "Bad Request", "message": answer}
    assert (response.status_code, response.json()) == (400, expected)


def test_whatsapp_numbers_without_numbers_is_a_serialised_type_error(evo: Evolution) -> None:
    response = evo.call("POST", "/chat/whatsappNumbers/zapq", json={})
    assert (response.status_code, response.json()) == (400, {})
    guarded = evo.call("POST", "/chat/whatsappNumbers/nope", json={})
    assert guarded.json()["status"] == 404, "guards keep the normal envelope"
