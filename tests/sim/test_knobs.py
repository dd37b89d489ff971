"""The failure knobs, latency, the seed and the control API."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.sim.conftest import Evolution, envelope
from tests.sim_fixture import SimControl

BODY = {"number": "5511987650000", "text": "oi"}


def test_fail_5xx_is_a_500_with_a_string_message(sim: SimControl, evo: Evolution) -> None:
    sim.configure(fail_5xx_rate=1.0)
    response = evo.send(BODY)
    message = "Cannot read properties of undefined (reading 'textMessage')"
    assert (response.status_code, response.json()) == (
        500,
        envelope(500, "Internal Server Error", message),
    )
    assert sim.stats()["accepted"] == 0


def test_connection_closed(sim: SimControl, evo: Evolution) -> None:
    sim.configure(connection_closed_rate=1.0)
    response = evo.send(BODY)
    expected = envelope(400, "Bad Request", ["Error: Connection Closed"])
    assert (response.status_code, response.json()) == (400, expected)


def test_timeout_holds_the_answer_but_the_message_was_sent(sim: SimControl, evo: Evolution) -> None:
    sim.configure(timeout_rate=1.0, timeout_hang_seconds=0.6)
    with pytest.raises(httpx.ReadTimeout):
        evo.send(BODY, timeout=0.1)
    stats = sim.stats()
    assert (stats["received"], stats["accepted"], stats["in_flight"]) == (1, 1, 1)
    assert stats["by_status"] == {}, "no answer yet"
    deadline = time.monotonic() + 5
    while sim.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.stats()["by_status"] == {"201": 1}
    sim.configure(timeout_rate=0.0)
    assert evo.send(BODY).status_code == 201
    assert sim.stats()["duplicates"] == 1, "the retry of a hung send is a duplicate"


def test_a_hung_request_from_before_a_reset_does_not_count_after_it(
    sim: SimControl, evo: Evolution
) -> None:
    sim.configure(timeout_rate=1.0, timeout_hang_seconds=0.3)
    with pytest.raises(httpx.ReadTimeout):
        evo.send(BODY, timeout=0.05)
    sim.reset()
    time.sleep(0.5)
    assert sim.stats()["by_status"] == {}
    assert sim.messages() == []


def test_rates_mix_in_proportion(sim: SimControl, evo: Evolution) -> None:
    sim.configure(seed=7, fail_5xx_rate=0.3, connection_closed_rate=0.3)
    statuses = [evo.send(BODY).status_code for _ in range(200)]
    assert 35 <= statuses.count(500) <= 85
    assert 35 <= statuses.count(400) <= 85
    assert statuses.count(201) == sim.stats()["accepted"]


def test_the_seed_makes_runs_reproducible(sim: SimControl, evo: Evolution) -> None:
    def run() -> list[object]:
        sim.reset(config=False)
        return [evo.send(BODY).json().get("key", {}).get("id") for _ in range(5)]

    sim.configure(seed=42, fail_5xx_rate=0.5)
    assert run() == run()


def test_latency_is_applied(sim: SimControl, evo: Evolution) -> None:
    sim.configure(latency_ms=200, latency_jitter_ms=50)
    started = time.monotonic()
    assert evo.send(BODY).status_code == 201
    assert time.monotonic() - started >= 0.15


async def test_in_flight_and_max_in_flight(sim: SimControl) -> None:
    sim.configure(latency_ms=300)
    async with httpx.AsyncClient(base_url=sim.url, headers={"apikey": "evo-key"}) as http:
        sends = [http.post("/message/sendText/zapq", json=BODY) for _ in range(5)]
        tasks = [asyncio.ensure_future(send) for send in sends]
        await asyncio.sleep(0.15)
        assert sim.stats()["in_flight"] == 5
        await asyncio.gather(*tasks)
    stats = sim.stats()
    assert (stats["in_flight"], stats["max_in_flight"], stats["accepted"]) == (0, 5, 5)


def test_configure_returns_the_full_config_and_rejects_bad_knobs(sim: SimControl) -> None:
    config = sim.configure(latency_ms=5)
    assert config["latency_ms"] == 5
    assert config["api_key"] == "evo-key"
    assert config["instances"] == {"zapq": None}
    with httpx.Client(base_url=sim.url) as http:
        assert http.post("/_sim/config", json={"fail_5xx_rate": 2}).status_code == 400
        assert http.post("/_sim/config", json={"no_such_knob": 1}).status_code == 400
        assert http.get("/_sim/messages", params={"limit": -1}).status_code == 400
        assert http.get("/_sim/nothing").status_code == 404


def test_the_global_key_can_be_changed(sim: SimControl, evo: Evolution) -> None:
    sim.configure(api_key="other")
    assert evo.send(BODY).status_code == 401
    assert evo.send(BODY, key="other").status_code == 201
