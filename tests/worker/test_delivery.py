"""A real worker (in process) sending through the simulator: every outcome class end to end."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from loadtest.bench_pipeline import max_in_window
from service.queue.models import now_ms
from service.queue.store import MessageQueue
from service.settings import Settings
from service.worker.context import WorkerDeps
from service.worker.delivery import deliver
from tests.worker.conftest import Factory, enqueue, eventually, sim_settings, wait_status


async def test_sends_and_records(queue: MessageQueue, start_worker: Factory, sim: Any) -> None:
    [mid] = await enqueue(queue, text="Olá")
    await start_worker()
    record = await wait_status(queue, mid, "sent")
    assert record.provider_id and record.provider_id.startswith("3EB0")
    assert record.remote_jid and record.remote_jid.endswith("@s.whatsapp.net")
    assert record.attempts == 1
    assert [h["status"] for h in record.history] == ["queued", "sending", "sent"]
    [received] = sim.messages()
    assert (received["number"], received["text"]) == ("5511987650000", "Olá")


async def test_invalid_recipient_fails_without_retry(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    sim.configure(invalid_numbers=["5511987650000"])
    [mid] = await enqueue(queue)
    await start_worker()
    record = await wait_status(queue, mid, "failed")
    assert (record.error_class, record.attempts) == ("invalid_recipient", 1)
    assert "5511987650000" not in (record.last_error or ""), "errors never carry the phone"
    assert sim.stats()["received"] == 1


async def test_connection_closed_retries_then_dead_letter(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    sim.configure(connection_closed_rate=1.0)
    [mid] = await enqueue(queue)
    await start_worker()
    record = await wait_status(queue, mid, "dead")
    assert (record.error_class, record.attempts) == ("instance_unavailable", 4)
    assert "Connection Closed" in (record.last_error or "")
    statuses = [h["status"] for h in record.history]
    assert statuses == ["queued"] + ["sending", "scheduled", "queued"] * 3 + ["sending", "dead"]
    assert sim.stats()["received"] == 4
    total, [dead] = await queue.dead_letters()
    assert (total, dead.id) == (1, mid)
    sim.configure(connection_closed_rate=0.0)
    assert await queue.requeue([mid]) == [mid]
    record = await wait_status(queue, mid, "sent")
    assert record.attempts == 1


async def test_server_error_then_recovery(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    sim.configure(fail_5xx_rate=1.0)
    [mid] = await enqueue(queue)
    await start_worker()
    await eventually(lambda: _received(sim, 1))
    sim.configure(fail_5xx_rate=0.0)
    record = await wait_status(queue, mid, "sent")
    assert record.attempts >= 2
    assert record.error_class == "server_error", "the last error is kept for diagnosis"


async def test_timeout_is_retried_and_counted_as_possible_duplicate(
    queue: MessageQueue, start_worker: Factory, sim: Any, wsettings: Settings
) -> None:
    sim.configure(timeout_rate=1.0, timeout_hang_seconds=1.5)
    settings = sim_settings(wsettings, sim.url, {"read_timeout_seconds": 0.3})
    [mid] = await enqueue(queue)
    await start_worker(settings)
    await eventually(lambda: _received(sim, 1))
    sim.configure(timeout_rate=0.0)
    record = await wait_status(queue, mid, "sent")
    assert record.attempts >= 2
    timeouts = [h for h in record.history if h.get("error_class") == "timeout"]
    assert timeouts, record.history


@pytest.mark.parametrize(
    ("evolution", "error_class"),
    [({"api_key": "wrong"}, "unauthorized"), ({"instance": "nope"}, "instance_not_found")],
)
async def test_our_configuration_errors_are_retried_loudly(
    queue: MessageQueue,
    start_worker: Factory,
    wsettings: Settings,
    sim: Any,
    caplog: pytest.LogCaptureFixture,
    evolution: dict[str, str],
    error_class: str,
) -> None:
    settings = sim_settings(wsettings, sim.url, evolution)
    [mid] = await enqueue(queue)
    with caplog.at_level(logging.WARNING, logger="zapq.worker"):
        await start_worker(settings)
        record = await wait_status(queue, mid, "dead")
    assert (record.error_class, record.attempts) == (error_class, 4)
    loud = [r for r in caplog.records if getattr(r, "error_class", None) == error_class]
    assert loud and all(r.levelno == logging.ERROR for r in loud)


async def test_expired_message_is_not_sent(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    [mid] = await enqueue(queue, expires_at_ms=now_ms() + 100)
    await asyncio.sleep(0.15)
    await start_worker()
    record = await wait_status(queue, mid, "expired")
    assert record.attempts == 0
    assert sim.stats()["received"] == 0


async def test_send_at_defers(queue: MessageQueue, start_worker: Factory) -> None:
    send_at = now_ms() + 400
    [mid] = await enqueue(queue, send_at_ms=send_at)
    await start_worker()
    assert (await queue.get(mid)).status == "scheduled"  # type: ignore[union-attr]
    await wait_status(queue, mid, "sent")
    dispatched = int(await queue.redis.hget(f"zapq:msg:{mid}", "dispatched_at"))
    assert dispatched >= send_at


async def test_cancelled_message_is_never_sent(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    [keep, drop] = await enqueue(queue, 2)
    assert (await queue.cancel(drop))[0] == "cancelled"
    await start_worker()
    await wait_status(queue, keep, "sent")
    assert (await queue.get(drop)).status == "cancelled"  # type: ignore[union-attr]
    assert [m["number"] for m in sim.messages()] == ["5511987650000"]


async def test_urgent_overtakes_backlog(
    queue: MessageQueue, start_worker: Factory, sim: Any, wsettings: Settings
) -> None:
    await enqueue(queue, 400)
    [urgent] = await enqueue(queue, text="URGENTE", priority="urgent")
    [low] = await enqueue(queue, text="baixa", priority="low")
    await start_worker(sim_settings(wsettings, sim.url, max_jobs=2))
    await wait_status(queue, urgent, "sent")
    texts = [m["text"] for m in sim.messages()]
    assert texts.index("URGENTE") < 4, "urgent goes first, within the first polls"
    assert (await queue.get(low)).status in {"queued", "sending"}  # type: ignore[union-attr]


async def test_limiter_caps_sends_per_second(
    queue: MessageQueue, start_worker: Factory, sim: Any, wsettings: Settings
) -> None:
    rate, burst = 20, 5
    ids = await enqueue(queue, 50)
    await start_worker(sim_settings(wsettings, sim.url, rate_per_second=rate, rate_burst=burst))
    await wait_status(queue, ids[-1], "sent", timeout=30)
    await eventually(lambda: _received(sim, 50))
    arrivals = sorted(m["received_at"] for m in sim.messages())
    # An upper bound holds however slow the machine is: at most burst + rate in any 1 s window.
    assert max_in_window(arrivals) <= burst + rate + 1


async def test_redelivery_limit_dead_letters(queue: MessageQueue, wsettings: Settings) -> None:
    [mid] = await enqueue(queue)
    [taken] = await queue.take(1, lock_seconds=30, worker="w")
    deps = WorkerDeps.build(wsettings, queue)
    try:
        outcome = await deliver(
            deps, taken.claim, taken.job_id, wsettings.worker.max_deliveries + 1
        )
    finally:
        await deps.aclose()
    assert outcome == "dead"
    record = await queue.get(mid)
    assert record is not None and (record.status, record.error_class) == (
        "dead",
        "redelivery_limit",
    )


async def test_duplicate_job_after_send_is_skipped(
    queue: MessageQueue, start_worker: Factory, sim: Any, wsettings: Settings
) -> None:
    [mid] = await enqueue(queue)
    job = (await queue.redis.hget(f"zapq:msg:{mid}", "job")).decode()
    await start_worker()
    await wait_status(queue, mid, "sent")
    deps = WorkerDeps.build(wsettings, queue)
    try:
        claim = await queue.claim(job, "late-duplicate")
        assert await deliver(deps, claim, job, 2) == "sent", "skipped: already sent"
    finally:
        await deps.aclose()
    assert sim.stats()["received"] == 1


async def _received(sim: Any, n: int) -> bool:
    return bool(sim.stats()["received"] >= n)


async def test_a_job_arq_times_out_is_redelivered_then_dead_lettered_never_stuck(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    sim.configure(latency_ms=1000)
    [mid] = await enqueue(queue)
    # arq's own job timeout below the request time (settings forbid it; forced here): each run is
    # cut, the job goes back to the queue, and after max_deliveries runs it is dead-lettered.
    await start_worker(job_timeout=0.2)
    record = await wait_status(queue, mid, "dead", timeout=30)
    assert record.error_class == "redelivery_limit"
    assert (await queue.stats()).in_flight == 0
