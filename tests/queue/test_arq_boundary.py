"""The contract with arq's internals (service/queue/arq_boundary.py): fails loudly on an arq
upgrade that changes anything zapq reads or overrides."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import arq
import arq.constants
import orjson
from arq.jobs import deserialize_job_raw
from arq.worker import Worker, func
from redis.asyncio import Redis

from service.queue import arq_boundary
from service.queue.keys import ARQ_JOB_PREFIX, ARQ_RETRY_PREFIX
from service.queue.store import MessageQueue
from tests.queue.conftest import msg


def test_checked_version() -> None:
    assert arq.VERSION == arq_boundary.ARQ_CHECKED_VERSION, (
        "arq changed: re-check every item of service/queue/arq_boundary.py's docstring, then "
        "bump ARQ_CHECKED_VERSION"
    )


def test_key_prefixes() -> None:
    assert ARQ_JOB_PREFIX == arq.constants.job_key_prefix
    assert ARQ_RETRY_PREFIX == arq.constants.retry_key_prefix


OVERRIDDEN = {
    "_poll_iteration": "(self) -> None",
    "finish_job": "(self, job_id: str, finish: bool, result_data: Optional[bytes], "
    "result_timeout_s: Optional[float], keep_result_forever: bool, incr_score: Optional[int], "
    "keep_in_progress: Optional[float]) -> None",
    "finish_failed_job": "(self, job_id: str, result_data: Optional[bytes]) -> None",
    "close": "(self) -> None",
    "run_job": "(self, job_id: str, score: int) -> None",
    "heart_beat": "(self) -> None",
    "handle_sig": "(self, signum: signal.Signals) -> None",
    "_release_sem_dec_counter_on_complete": "(self) -> None",
}


def test_overridden_and_called_methods_keep_their_signatures() -> None:
    found = {name: str(inspect.signature(getattr(Worker, name))) for name in OVERRIDDEN}
    assert found == OVERRIDDEN


async def test_attributes_zapq_reads_exist(redis: Redis) -> None:
    worker = Worker(functions=[func(_noop, name="noop")], redis_pool=redis, handle_signals=False)
    for name in (
        "sem",
        "job_counter",
        "tasks",
        "max_jobs",
        "allow_pick_jobs",
        "in_progress_timeout_s",
        "poll_delay_s",
        "loop",
        "main_task",
        "_handle_signals",
        "_pool",
        "health_check_key",
        "on_shutdown",
        "ctx",
    ):
        assert hasattr(worker, name), name
    assert isinstance(worker.sem, asyncio.Semaphore)


async def _noop(ctx: dict[str, Any]) -> None:
    return None


async def test_job_written_by_lua_is_read_by_arq(queue: MessageQueue, redis: Redis) -> None:
    [result] = await queue.enqueue([msg()], "k")
    job_id = queue.keys.job_id(result.message_id, 1)
    raw = await redis.get(ARQ_JOB_PREFIX + job_id)
    job = deserialize_job_raw(raw, deserializer=orjson.loads)
    function, args, kwargs, job_try, enqueue_ms = job
    assert (function, args, kwargs, job_try) == (
        arq_boundary.JOB_FUNCTION,
        [result.message_id],
        {},
        1,
    )
    assert enqueue_ms > 0


async def test_arq_runs_a_job_our_script_wrote(queue: MessageQueue, redis: Redis) -> None:
    """arq's own run_job reads the job at arq:job:<id> and counts arq:retry:<id>."""
    [result] = await queue.enqueue([msg()], "k")
    job_id = queue.keys.job_id(result.message_id, 1)
    seen: list[tuple[str, int, bytes | None]] = []

    async def send_message(ctx: dict[str, Any], message_id: str) -> None:
        seen.append((message_id, ctx["job_try"], await redis.get(ARQ_RETRY_PREFIX + job_id)))

    worker = Worker(
        functions=[func(send_message, name=arq_boundary.JOB_FUNCTION)],
        redis_pool=redis,
        queue_name=queue.keys.queue,
        handle_signals=False,
        keep_result=0,
        job_deserializer=orjson.loads,
    )
    await worker.run_job(job_id, 0)
    assert seen == [(result.message_id, 1, b"1")], "arq counted the delivery at arq:retry:<id>"
