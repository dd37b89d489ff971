"""WhatsAppInstance end to end: `zapq operator` against kmock, the simulator and Redis."""

from __future__ import annotations

import kmock

from service.senders.registry import SenderRegistry
from tests.operator.conftest import Start
from tests.operator.harness import eventually, instance, path, status
from tests.sim_fixture import SimControl


async def test_create_pairs_and_registers_the_sender(
    kmock: kmock.KubernetesEmulator, sim: SimControl, registry: SenderRegistry, start_operator: Start
) -> None:
    sim.configure(connect_delay_seconds=2)
    log = await start_operator()
    response = await kmock.post(path(), json=instance("sales", evolution={"url": sim.url}, ratePerSecond=5))
    assert response.status == 200, await response.text()
    try:
        await eventually(lambda: status(kmock, "sales").get("phase") == "AwaitingQRCode", 30, "qr")
        await eventually(lambda: status(kmock, "sales").get("phase") == "Connected", 30, "open")
    except AssertionError:
        import shutil; shutil.copy(log, "/tmp/operator-last.log")
        for r in list(kmock):
            print(r.method, r.url, r.resource, r.action)
        raise
    print(status(kmock, "sales"))
    sender = await registry.get("sales")
    assert sender is not None
