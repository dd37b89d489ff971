"""EvolutionClient (both transports) against the running simulator, one test per failure knob."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from service.devstack import free_port
from service.evolution.admin import EvolutionAdmin, NewInstance
from service.evolution.client import EvolutionClient
from service.evolution.errors import (
    EvolutionInstanceNotFound,
    EvolutionInstanceUnavailable,
    EvolutionInvalidRecipient,
    EvolutionServerError,
    EvolutionTimeout,
    EvolutionTransportError,
    EvolutionUnauthorized,
)
from service.settings import EvolutionSettings
from tests.sim_fixture import SimControl

NUMBER = "5531987654321"
Factory = Callable[..., EvolutionClient]


@pytest.fixture(params=["aiohttp", "httpx"])
async def make_client(sim: SimControl, request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """EvolutionClient on the simulator with the parametrised transport; overrides per call."""
    clients: list[EvolutionClient] = []

    def make(**overrides: Any) -> EvolutionClient:
        fields = {"base_url": sim.url, "api_key": "evo-key", "instance": "zapq"} | overrides
        settings = EvolutionSettings(transport=request.param, **fields)
        clients.append(EvolutionClient(settings, max_connections=overrides.pop("pool", 5)))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def test_send_text(sim: SimControl, make_client: Factory) -> None:
    sent = await make_client().send_text(NUMBER, "Olá", link_preview=False)
    assert sent.provider_id.startswith("3EB0") and len(sent.provider_id) == 40
    assert sent.remote_jid == "553187654321@s.whatsapp.net", "the BR 9th-digit rule"
    assert sent.status == "PENDING" and sent.timestamp > 0
    [message] = sim.messages()
    assert (message["number"], message["text"], message["key_id"]) == (
        NUMBER,
        "Olá",
        sent.provider_id,
    )


async def test_server_error(sim: SimControl, make_client: Factory) -> None:
    sim.configure(fail_5xx_rate=1.0)
    with pytest.raises(EvolutionServerError) as caught:
        await make_client().send_text(NUMBER, "oi")
    assert caught.value.status_code == 500


async def test_connection_closed(sim: SimControl, make_client: Factory) -> None:
    sim.configure(connection_closed_rate=1.0)
    with pytest.raises(EvolutionInstanceUnavailable) as caught:
        await make_client().send_text(NUMBER, "oi")
    assert caught.value.message == "HTTP 400: Error: Connection Closed"


async def test_timeout(sim: SimControl, make_client: Factory) -> None:
    sim.configure(timeout_rate=1.0, timeout_hang_seconds=2)
    with pytest.raises(EvolutionTimeout):
        await make_client(read_timeout_seconds=0.2).send_text(NUMBER, "oi")
    assert sim.stats()["accepted"] == 1, "the send went through; only the answer was late"


async def test_invalid_number(sim: SimControl, make_client: Factory) -> None:
    sim.configure(invalid_numbers=[NUMBER])
    with pytest.raises(EvolutionInvalidRecipient) as caught:
        await make_client().send_text(NUMBER, "oi")
    assert "87654321" not in caught.value.message


async def test_wrong_key(make_client: Factory) -> None:
    with pytest.raises(EvolutionUnauthorized):
        await make_client(api_key="wrong").send_text(NUMBER, "oi")


async def test_unknown_instance(make_client: Factory) -> None:
    with pytest.raises(EvolutionInstanceNotFound) as caught:
        await make_client(instance="nope").send_text(NUMBER, "oi")
    assert '"nope"' in caught.value.message


async def test_nothing_listening(make_client: Factory) -> None:
    client = make_client(base_url=f"http://127.0.0.1:{free_port()}", connect_timeout_seconds=2)
    with pytest.raises(EvolutionTransportError) as caught:
        await client.send_text(NUMBER, "oi")
    assert type(caught.value) is EvolutionTransportError


async def test_the_pool_bounds_concurrency(sim: SimControl, make_client: Factory) -> None:
    sim.configure(latency_ms=50)
    client = make_client(pool=3)
    await asyncio.gather(*(client.send_text(NUMBER, f"m{i}") for i in range(12)))
    stats = sim.stats()
    assert stats["accepted"] == 12
    assert stats["max_in_flight"] <= 3


async def test_typing_delay_is_sent_and_awaited(sim: SimControl, make_client: Factory) -> None:
    client = make_client(typing_delay_ms=200, read_timeout_seconds=0.5)
    sent = await client.send_text(NUMBER, "oi", delay_ms=200)
    assert sent.provider_id


async def test_instance_lifecycle(sim: SimControl) -> None:
    async with EvolutionAdmin(sim.url, SecretStr("evo-key")) as admin:
        created = await admin.create_instance(NewInstance("ops", token=SecretStr("ops-token")))
        assert created["hash"] == "ops-token"
        assert await admin.connection_state("ops") == "close"
        [row] = await admin.fetch_instances("ops")
        assert (row["name"], row["token"], row["connectionStatus"]) == ("ops", "ops-token", "close")
        assert [r["name"] for r in await admin.fetch_instances()] == ["zapq", "ops"]
        await admin.delete_instance("ops")
        with pytest.raises(EvolutionInstanceNotFound):
            await admin.connection_state("ops")


async def test_whatsapp_numbers(sim: SimControl, make_client: Factory) -> None:
    sim.configure(invalid_numbers=["5511900000000"])
    found = await make_client().whatsapp_numbers([NUMBER, "5511900000000"])
    assert [(f["jid"], f["exists"]) for f in found] == [
        ("553187654321@s.whatsapp.net", True),
        ("5511900000000@s.whatsapp.net", False),
    ]
