"""Contract sections 0 and 1: guard order, the error envelope, auth."""

from __future__ import annotations

import pytest

from tests.sim.conftest import Evolution, envelope
from tests.sim_fixture import SimControl

NOT_FOUND = envelope(404, "Not Found", ['The "nope" instance does not exist'])
UNAUTHORIZED = envelope(401, "Unauthorized", "Unauthorized")


def test_unknown_instance_is_404_before_auth_and_validation(evo: Evolution) -> None:
    response = evo.send({}, instance="nope", key=None)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize("key", [None, "wrong"])
def test_missing_or_wrong_key_is_401_with_a_string_message(evo: Evolution, key: str | None) -> None:
    response = evo.send({}, key=key)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_auth_comes_before_validation(evo: Evolution) -> None:
    assert evo.send({"number": 5}, key="wrong").status_code == 401
    assert evo.send({"number": 5}).status_code == 400


def test_apikey_header_name_is_case_insensitive(evo: Evolution) -> None:
    body = {"number": "5511987650000", "text": "oi"}
    response = evo.http.post("/message/sendText/zapq", json=body, headers={"APIKEY": "evo-key"})
    assert response.status_code == 201


def test_instance_token_is_accepted_for_its_own_instance_only(
    sim: SimControl, evo: Evolution
) -> None:
    sim.configure(instances={"zapq": "tok-a", "other": "tok-b"})
    body = {"number": "5511987650000", "text": "oi"}
    assert evo.send(body, key="tok-a").status_code == 201
    assert evo.send(body, instance="other", key="tok-a").status_code == 401
    assert evo.send(body, instance="other", key="evo-key").status_code == 201


def test_unknown_route_is_a_404_cannot_method_path(evo: Evolution) -> None:
    response = evo.call("POST", "/x/y", json={})
    expected = envelope(404, "Not Found", ["Cannot POST /x/y"])
    assert (response.status_code, response.json()) == (404, expected)
    response = evo.call("GET", "/message/sendText/zapq?a=1")
    assert response.json()["response"]["message"] == ["Cannot GET /message/sendText/zapq?a=1"]


def test_routes_match_case_insensitively_and_with_a_trailing_slash(evo: Evolution) -> None:
    body = {"number": "5511987650000", "text": "oi"}
    assert evo.call("POST", "/MESSAGE/SENDTEXT/zapq/", json=body).status_code == 201
    assert evo.call("POST", "/message/sendText/ZAPQ", json=body).status_code == 404


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"number":', "Unexpected end of JSON input"),
        (b"  ", "Unexpected end of JSON input"),
        (b'{"number": x}', 'Unexpected token \'x\', "{"number": x}" is not valid JSON'),
    ],
)
def test_malformed_json_is_a_400_saying_internal_server_error_before_any_guard(
    evo: Evolution, raw: bytes, message: str
) -> None:
    headers = {"content-type": "application/json"}
    for path in ("/message/sendText/nope", "/x/y"):
        response = evo.http.post(path, content=raw, headers=headers)
        expected = envelope(400, "Internal Server Error", message)
        assert (response.status_code, response.json()) == (400, expected)


def test_a_body_without_a_json_content_type_is_ignored(evo: Evolution) -> None:
    """express.json() parses only application/json: the body is then empty."""
    response = evo.http.post(
        "/message/sendText/zapq",
        content=b'{"number": "5511987650000", "text": "oi"}',
        headers={"apikey": "evo-key", "content-type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["response"]["message"][0] == 'instance requires property "number"'


def test_create_accepts_only_the_global_key(sim: SimControl, evo: Evolution) -> None:
    sim.configure(instances={"zapq": "tok-a"})
    body = {"instanceName": "new", "integration": "WHATSAPP-BAILEYS"}
    response = evo.call("POST", "/instance/create", key="tok-a", json=body)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_name_in_use_is_403_before_auth(evo: Evolution) -> None:
    body = {"instanceName": "zapq", "integration": "WHATSAPP-BAILEYS"}
    response = evo.call("POST", "/instance/create", key=None, json=body)
    expected = envelope(403, "Forbidden", ['This name "zapq" is already in use.'])
    assert (response.status_code, response.json()) == (403, expected)
