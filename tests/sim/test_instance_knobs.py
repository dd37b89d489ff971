"""Per-instance knobs, switches and counters (POST/GET /_sim/instances)."""

from __future__ import annotations

import httpx
import pytest

from tests.sim.conftest import Evolution, envelope
from tests.sim.receiver import wait_until
from tests.sim_fixture import SimControl

BODY = {"number": "5511987650000", "text": "oi"}
IMAGE = {"number": "5511987650000", "mediatype": "image", "media": "https://cdn.example.com/a.png"}
CLOSED = envelope(400, "Bad Request", ["Error: Connection Closed"])


@pytest.fixture
def two(sim: SimControl) -> SimControl:
    sim.configure(instances={"a": None, "b": None})
    return sim


def _state(evo: Evolution, name: str) -> str:
    response = evo.call("GET", f"/instance/connectionState/{name}")
    return str(response.json()["instance"]["state"])


def test_an_override_applies_to_its_instance_only(two: SimControl, evo: Evolution) -> None:
    described = two.instance("a", fail_5xx_rate=1.0)
    assert (described["name"], described["state"], described["fail_5xx_rate"]) == ("a", "open", 1)
    assert described["overrides"] == {"fail_5xx_rate": 1.0}
    assert described["latency_ms"] == 0, "the other knobs stay the global ones"
    assert evo.send(BODY, instance="a").status_code == 500
    assert evo.send(BODY, instance="b").status_code == 201
    two.configure(fail_5xx_rate=0.0, latency_ms=1)
    assert two.instance("a")["fail_5xx_rate"] == 1, "an override outlives a global change"
    assert two.instance("a")["latency_ms"] == 1, "a global change reaches the other knobs"


def test_counters_per_instance(two: SimControl, evo: Evolution) -> None:
    two.instance("a", connection_closed_rate=1.0)
    evo.send(BODY, instance="a")
    evo.send(BODY, instance="b")
    evo.send(BODY, instance="b")
    assert two.stats()["by_instance"] == {
        "a": {"received": 1, "accepted": 0, "by_status": {"400": 1}},
        "b": {"received": 2, "accepted": 2, "by_status": {"201": 2}},
    }
    listed = {item["name"]: item for item in two.instances()}
    assert listed["b"]["counters"]["accepted"] == 2
    assert listed["a"]["connection_closed_rate"] == 1


def test_connection_closed_keeps_the_state_open(sim: SimControl, evo: Evolution) -> None:
    assert sim.instance("zapq", connection_closed=True)["connection_closed"] is True
    for _ in range(3):
        response = evo.send(BODY)
        assert (response.status_code, response.json()) == (400, CLOSED)
    media = evo.call("POST", "/message/sendMedia/zapq", json=IMAGE)
    assert (media.status_code, media.json()) == (400, CLOSED)
    assert _state(evo, "zapq") == "open", "a half-dead socket still reports open"
    assert sim.stats()["accepted"] == 0
    assert sim.instance("zapq", reset=True)["connection_closed"] is False
    assert evo.send(BODY).status_code == 201


def test_reset_drops_the_overrides(sim: SimControl, evo: Evolution) -> None:
    sim.instance("zapq", latency_ms=5, connection_closed=True)
    described = sim.instance("zapq", reset=True, timeout_rate=0.5)
    assert described["overrides"] == {"timeout_rate": 0.5}, "reset first, then the new ones"
    assert described["latency_ms"] == 0
    sim.instance("zapq", fail_5xx_rate=1.0)
    evo.send(BODY)
    sim.reset(config=False)
    described = sim.instance("zapq")
    assert (described["overrides"], described["counters"]["received"]) == ({}, 0)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"fail_5xx_rate": 2}, "fail_5xx_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"state": "gone"}, "state"),
        ({"connection_closed": "yes"}, "connection_closed"),
        ({"no_such_knob": 1}, "no_such_knob"),
        ({"ack_probabilities": {"READ": 2}}, "ack_probabilities"),
    ],
)
def test_a_bad_field_is_a_400_naming_it(
    sim: SimControl, body: dict[str, object], named: str
) -> None:
    response = httpx.post(f"{sim.url}/_sim/instances/zapq", json=body)
    assert response.status_code == 400
    assert named in response.json()["error"]
    assert sim.instance("zapq")["overrides"] == {}, "nothing was applied"


def test_an_unknown_instance_is_a_404(sim: SimControl) -> None:
    for method in ("GET", "POST"):
        response = httpx.request(method, f"{sim.url}/_sim/instances/nope", json={})
        assert response.status_code == 404
        assert "nope" in response.json()["error"]


def test_state_knob_close_logs_the_session_out(sim: SimControl, evo: Evolution) -> None:
    assert sim.instance("zapq", state="close")["state"] == "close"
    assert _state(evo, "zapq") == "close"
    response = evo.send(BODY)
    assert (response.status_code, response.json()["response"]["message"]) == (
        500,
        "Connection Closed",
    )
    [row] = evo.call("GET", "/instance/fetchInstances").json()
    assert (row["connectionStatus"], row["disconnectionReasonCode"]) == ("close", 401)


def test_state_knob_connecting_reconnects(sim: SimControl, evo: Evolution) -> None:
    sim.configure(connect_delay_seconds=0.2)
    assert sim.instance("zapq", state="connecting")["state"] == "connecting"
    assert evo.send(BODY).status_code == 500, "no socket while reconnecting"
    wait_until(lambda: _state(evo, "zapq") == "open", "the reconnect")
    assert evo.send(BODY).status_code == 201


def test_latency_override(two: SimControl, evo: Evolution) -> None:
    two.instance("a", latency_ms=10_000)
    # The other instance is not held by a's latency.
    assert evo.send(BODY, instance="b", timeout=5).status_code == 201
    with pytest.raises(httpx.ReadTimeout):
        evo.send(BODY, instance="a", timeout=0.3)
