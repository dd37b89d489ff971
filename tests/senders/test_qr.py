"""`zapq senders qr NAME` against the simulator and Redis: the QR code Evolution issues, drawn."""

from __future__ import annotations

import argparse
import io

import pytest
import segno
from pydantic import SecretStr
from redis.asyncio import Redis

from service.evolution.admin import EvolutionAdmin, NewInstance
from service.queue.store import MessageQueue
from service.senders.qr import add_arguments, draw, show
from service.senders.registry import SenderRegistry
from service.settings import SenderSpec, Settings
from tests.sim_fixture import SimControl


@pytest.fixture
async def registry(redis: Redis, settings: Settings) -> SenderRegistry:
    return SenderRegistry(MessageQueue(redis, settings))


async def register(registry: SenderRegistry, sim: SimControl, name: str) -> None:
    async with EvolutionAdmin(sim.url, SecretStr("evo-key")) as admin:
        created = await admin.create_instance(NewInstance(name))
    spec = SenderSpec(name=name, base_url=sim.url, api_key=SecretStr(created["hash"]))
    await registry.put(spec)


async def test_draws_the_issued_code(
    sim: SimControl, registry: SenderRegistry, settings: Settings
) -> None:
    sim.configure(connect_delay_seconds=3600)
    await register(registry, sim, "ops")
    out = io.StringIO()
    assert await show(settings, "ops", "5511987654321", out) == 0
    async with EvolutionAdmin(sim.url, SecretStr("evo-key")) as admin:
        issued = await admin.connect("ops")  # the same code, while it waits for a scan
    expected = io.StringIO()
    draw(issued["code"], expected)
    assert out.getvalue().startswith(expected.getvalue())
    assert "pairing code" in out.getvalue()
    assert segno.make(issued["code"], error="l").designator  # a real symbol, not hand-drawn


async def test_connected_unknown_and_unreachable(
    sim: SimControl,
    registry: SenderRegistry,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await register(registry, sim, "ops")
    sim.instance("ops", state="open")
    out = io.StringIO()
    assert await show(settings, "ops", None, out) == 0
    assert "already connected" in out.getvalue()
    assert await show(settings, "nobody", None, io.StringIO()) == 1
    await registry.put(SenderSpec(name="gone", base_url="http://127.0.0.1:9"))
    assert await show(settings, "gone", None, io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "no sender named 'nobody'" in err
    assert "Evolution:" in err


def test_arguments() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["ops", "--pairing-number", "5511987654321"])
    assert (args.name, args.pairing_number) == ("ops", "5511987654321")


def test_qr_is_a_senders_action() -> None:
    """`zapq senders qr NAME` reaches this module through the senders command."""
    from service.cli import build_parser

    args = build_parser().parse_args(["senders", "qr", "s1", "--pairing-number", "5511987654321"])
    assert (args.action, args.name, args.pairing_number) == ("qr", "s1", "5511987654321")
