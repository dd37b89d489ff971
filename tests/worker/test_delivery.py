"""A real worker (in process) sending through the simulator: every outcome class end to end."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import pytest

from loadtest.bench_pipeline import max_in_window
from service.queue.models import Breaker, Kind, Media, MediaType, NewMessage, Outcome, now_ms
from service.queue.store import MessageQueue
from service.senders.registry import SenderRegistry
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


async def test_connection_closed_waits_for_the_sender_never_dead(
    queue: MessageQueue, start_worker: Factory, sim: Any, wsettings: Settings
) -> None:
    """One sender whose session refuses every send: the message is rerouted without counting
    attempts, the breaker opens and the message waits; when the session is back, it is sent."""
    sim.configure(connection_closed_rate=1.0)
    [mid] = await enqueue(queue)
    await start_worker()
    registry = SenderRegistry(queue)
    await eventually(lambda: _breaker_open(registry, "zapq"))
    record = await queue.get(mid)
    assert record is not None and (record.status, record.attempts) == ("queued", 0)
    assert (await queue.stats()).dead_letters == 0
    sim.configure(connection_closed_rate=0.0)
    record = await wait_status(queue, mid, "sent")
    assert record.attempts == 1, "refusals by the sender never count as attempts"
    reroutes = [h for h in record.history if h.get("rerouted_from") == "zapq"]
    assert len(reroutes) >= wsettings.pool.breaker_failures
    assert all(h["error_class"] == "instance_unavailable" for h in reroutes)


async def _breaker_open(registry: SenderRegistry, name: str) -> bool:
    states = {s.sender.name: s for s in await registry.states(now_ms())}
    return name in states and states[name].breaker is not Breaker.CLOSED


async def test_server_error_then_recovery(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    sim.configure(fail_5xx_rate=1.0)
    [mid] = await enqueue(queue)
    await start_worker()
    await eventually(lambda: _received(sim, 1))
    sim.configure(fail_5xx_rate=0.0)
    record = await wait_status(queue, mid, "sent")
    assert record.attempts == 1
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
    timeouts = [h for h in record.history if h.get("error_class") == "timeout"]
    assert timeouts and record.attempts == 1, record.history


@pytest.mark.parametrize(
    ("evolution", "error_class"),
    [({"api_key": "wrong"}, "unauthorized"), ({"instance": "nope"}, "instance_not_found")],
)
async def test_our_configuration_errors_hold_messages_loudly(
    queue: MessageQueue,
    start_worker: Factory,
    wsettings: Settings,
    sim: Any,
    caplog: pytest.LogCaptureFixture,
    evolution: dict[str, str],
    error_class: str,
) -> None:
    """A wrong key or instance is the sender's fault: its breaker opens, messages wait (never
    dropped, never dead-lettered), and every refusal is logged at ERROR."""
    settings = sim_settings(wsettings, sim.url, evolution)
    [mid] = await enqueue(queue)
    with caplog.at_level(logging.WARNING, logger="zapq.worker"):
        await start_worker(settings)
        sender = settings.evolution.instance  # the one sender, named after its instance
        await eventually(lambda: _breaker_open(SenderRegistry(queue), sender))
    record = await queue.get(mid)
    assert record is not None and (record.status, record.error_class) == ("queued", error_class)
    assert record.attempts == 0
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
    dispatched = int(await queue.redis.hget(queue.keys.message(mid), "dispatched_at"))
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


async def test_sender_rate_caps_sends_per_second(
    queue: MessageQueue, start_worker: Factory, sim: Any, wsettings: Settings
) -> None:
    rate, burst = 20, 5
    ids = await enqueue(queue, 50)
    sender = {"name": "zapq", "rate_per_second": rate, "burst": burst}
    await start_worker(sim_settings(wsettings, sim.url, senders=[sender]))
    await wait_status(queue, ids[-1], "sent", timeout=30)
    await eventually(lambda: _received(sim, 50))
    arrivals = sorted(m["received_at"] for m in sim.messages())
    # An upper bound holds however slow the machine is: lateness only spreads sends out.
    assert max_in_window(arrivals) <= burst + rate


async def test_redelivery_limit_dead_letters(queue: MessageQueue, wsettings: Settings) -> None:
    [mid] = await enqueue(queue)
    deps = WorkerDeps.build(wsettings, queue)
    try:
        await deps.pool.registry.bootstrap()
        await deps.pool.refresh()
        [claim] = (await queue.take(1, 30, "w", deps.pool.routing())).claims
        outcome = await deliver(deps, claim, wsettings.worker.max_deliveries + 1)
    finally:
        await deps.aclose()
    assert outcome is Outcome.DEAD
    record = await queue.get(mid)
    assert record is not None and (record.status, record.error_class) == (
        "dead",
        "redelivery_limit",
    )


async def test_duplicate_job_after_send_is_skipped(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    [mid] = await enqueue(queue)
    job = (await queue.redis.hget(queue.keys.message(mid), "job")).decode()
    await start_worker()
    await wait_status(queue, mid, "sent")
    # The job comes back (a worker's lock expired after it sent): take.lua ends it unsent.
    await queue.redis.zadd(queue.keys.queue, {job: 0})
    await eventually(lambda: _queue_empty(queue))
    assert sim.stats()["received"] == 1
    assert (await queue.get(mid)).status == "sent"  # type: ignore[union-attr]


async def _queue_empty(queue: MessageQueue) -> bool:
    return (await queue.stats()).ready_total == 0


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


async def test_each_kind_reaches_its_evolution_route(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    document = Media(
        MediaType.DOCUMENT, "https://billing.example/b.pdf", "application/pdf", "b.pdf"
    )
    image = Media(MediaType.IMAGE, base64.b64encode(b"\xff\xd8\xff jpeg").decode())
    messages = [
        NewMessage(to="5511987650001", text="Olá"),
        NewMessage(to="5511987650002", text="Seu boleto", kind=Kind.MEDIA, media=document),
        NewMessage(to="5511987650003", kind=Kind.MEDIA, media=image),
    ]
    ids = [r.message_id for r in await queue.enqueue(messages, "test")]
    await start_worker()
    for mid in ids:
        await wait_status(queue, mid, "sent")
    received = {m["number"]: m for m in sim.messages()}
    assert received["5511987650001"]["kind"] == "text"
    sent_document = received["5511987650002"]
    assert (sent_document["kind"], sent_document["mediatype"]) == ("media", "document")
    assert (sent_document["fileName"], sent_document["caption"]) == ("b.pdf", "Seu boleto")
    assert received["5511987650003"]["mediatype"] == "image"


async def test_media_upload_failure_is_retried_then_sent(
    queue: MessageQueue, start_worker: Factory, sim: Any
) -> None:
    """Evolution's 500 when the upload to WhatsApp fails is the sender's (transient) fault."""
    sim.configure(media_upload_fail_rate=1.0)
    media = Media(MediaType.IMAGE, "https://cdn.example/a.jpg")
    [result] = await queue.enqueue(
        [NewMessage(to="5511987650001", kind=Kind.MEDIA, media=media)], "test"
    )
    await start_worker()
    await eventually(lambda: _received(sim, 2))
    sim.configure(media_upload_fail_rate=0.0)
    record = await wait_status(queue, result.message_id, "sent")
    assert record.error_class == "server_error" and record.attempts == 1
