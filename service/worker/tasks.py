"""arq task functions: unpack ctx, call a plain function with explicit arguments."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq.worker import RetryJob

from service.redis import REDIS_ERRORS
from service.worker.delivery import deliver

log = logging.getLogger("zapq.worker")

# After a Redis error the job is handed back to arq to run again; this pause keeps a Redis outage
# from turning into a hot loop of instant failures.
REDIS_ERROR_PAUSE_SECONDS = 1.0


async def send_message(ctx: dict[str, Any], message_id: str) -> str:
    deps, job_id = ctx["deps"], ctx["job_id"]
    # The worker's take claimed and routed the message; a job without a claim was not started by
    # take.lua (arq's own read path is replaced): it goes back to the queue (ZapqWorker.job_ended).
    claim = ctx["claims"].pop(job_id, None)
    if claim is None:
        log.warning("job run without a claim: back to the queue", extra={"message_id": message_id})
        return "unclaimed"
    try:
        outcome = await deliver(deps, claim, ctx["job_try"])
    except REDIS_ERRORS as exc:
        # Never let arq mark the job failed (it would drop it): run it again. take.lua makes the
        # rerun safe (a finished message is skipped).
        log.warning(
            "redis error, job will run again", extra={"message_id": message_id, "error": repr(exc)}
        )
        await asyncio.sleep(REDIS_ERROR_PAUSE_SECONDS)
        raise RetryJob() from exc
    if outcome is None:  # nothing recorded: ZapqWorker.job_ended hands the job back
        return "released"
    # Every other way deliver() returns went through complete.lua, which ended the job's run.
    ctx["ended"].add(job_id)
    return str(outcome)
