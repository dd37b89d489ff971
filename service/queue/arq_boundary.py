"""Everything zapq reads or overrides of arq's internals, in one room. Checked against arq 0.28.0
(ARQ_CHECKED_VERSION); tests/queue/test_arq_boundary.py fails loudly on an arq that changes any of
it (signatures, attributes, key prefixes, the job format, run_job's reads).

Why zapq reaches inside arq at all: arq runs each job well (deserialisation, ctx, timeout,
cancellation, drain on SIGTERM, health key), but its read path re-checks every running job on every
poll (about 48 Redis round trips per message at 50 msg/s) and it drops jobs it gives up on. zapq
keeps arq's job running and replaces how jobs are picked up and how they end.

Overrides of ``arq.worker.Worker`` (class ArqWorker below):
- ``_poll_iteration``: calls ``poll_jobs()`` (zapq's take.lua: take, route and claim in one atomic
  call) instead of arq's ZRANGEBYSCORE + per-job WATCH/MULTI; survives Redis outages with a backoff;
  stops polling once the main task is being cancelled.
- ``finish_job``: arq would delete the job or keep a result; zapq's outcome script already ended the
  job, or (an interrupted run) the job goes back to the queue: ``job_ended(job_id, gave_up=False)``.
- ``finish_failed_job``: arq gave up on a job (expired payload, max tries): end it, never drop the
  message silently.
- ``close``: arq's close() with redis-py's aclose() and tolerant of Redis being gone at shutdown.

arq attributes used: ``sem``, ``job_counter``, ``tasks``, ``max_jobs``, ``allow_pick_jobs``,
``in_progress_timeout_s``, ``poll_delay_s``, ``loop``, ``main_task``, ``run_job``,
``_release_sem_dec_counter_on_complete``, ``heart_beat``, ``handle_sig``, ``_handle_signals``,
``_pool``, ``pool``, ``health_check_key``, ``on_shutdown``, ``ctx``.

The job format: arq's serialised job is ``{"t": job_try, "f": function, "a": args, "k": kwargs,
"et": enqueue ms}`` (``arq.jobs.serialize_job``). zapq's scripts write it themselves (push_ready
in lib.lua) from ARQ_JOB_LUA below, so that enqueue stays one atomic script; arq's run_job reads it
with ``GET arq:job:<id>`` and counts deliveries with ``INCR arq:retry:<id>`` (keys.py has both
prefixes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from abc import abstractmethod
from typing import Any, Final

from arq.worker import Worker

from service.redis import REDIS_ERRORS

log = logging.getLogger("zapq.worker")

ARQ_CHECKED_VERSION: Final = "0.28.0"
#: The one arq function zapq registers: every job sends one message.
JOB_FUNCTION: Final = "send_message"
#: Lua that builds arq's job payload for message ``id`` enqueued at ``now`` (ms); included in every
#: script's header by service/queue/scripts.py.
ARQ_JOB_LUA: Final = f"""
local function arq_job_payload(id, now)
  return cjson.encode({{t = 1, f = '{JOB_FUNCTION}', a = {{id}}, k = {{}}, et = now}})
end
"""

# Longest pause between polls while Redis is unreachable (seconds); doubles from poll_delay up to
# it.
_MAX_BACKOFF_SECONDS = 5.0


class ArqWorker(Worker):
    """arq's Worker with zapq's job pickup and ending (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backoff = 0.0

    # -- what zapq's worker implements -------------------------------------------------------------

    @abstractmethod
    async def poll_jobs(self) -> None:
        """Take jobs for the free slots (start each with start_job), or wait for work."""

    @abstractmethod
    async def job_ended(self, job_id: str, *, gave_up: bool) -> None:
        """arq is done with a job: its run ended (with or without an outcome recorded), or arq
        ``gave_up`` on it without running it (payload expired, too many deliveries)."""

    def polled(self) -> None:
        """Called after every poll that reached Redis."""

    # -- helpers over arq's bookkeeping ------------------------------------------------------------

    @property
    def free_slots(self) -> int:
        return self.max_jobs - self.job_counter if self.allow_pick_jobs else 0

    async def start_job(self, job_id: str, score: int) -> None:
        """Run one job the way arq's start_jobs does, minus its Redis checks (take.lua did them)."""
        await self.sem.acquire()
        self.job_counter += 1
        task = self.loop.create_task(self.run_job(job_id, score))
        task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
        self.tasks[job_id] = task

    # -- overrides ---------------------------------------------------------------------------------

    async def _poll_iteration(self) -> None:
        main = self.main_task
        if main is not None and main.cancelling():
            # Stop was asked but a Redis call swallowed the CancelledError: stop here, or the loop
            # would go on polling (and reconnecting) after close().
            raise asyncio.CancelledError
        try:
            await self.poll_jobs()
            for job_id, task in list(self.tasks.items()):
                if task.done():
                    del self.tasks[job_id]
                    task.result()
            await self.heart_beat()
        except REDIS_ERRORS as exc:
            self._backoff = min(max(self._backoff * 2, self.poll_delay_s), _MAX_BACKOFF_SECONDS)
            log.warning(
                "redis unavailable, polling again",
                extra={"error": repr(exc), "in_seconds": self._backoff},
            )
            await asyncio.sleep(self._backoff)
            return
        self._backoff = 0.0
        self.polled()

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        await self.job_ended(job_id, gave_up=False)

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        await self.job_ended(job_id, gave_up=True)

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_ERRORS):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        await self.pool.aclose(close_connection_pool=True)
        self._pool = None
