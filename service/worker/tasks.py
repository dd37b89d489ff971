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
    try:
        # The worker's take claimed the message already; a job started any other way claims now.
        claimed = ctx["claims"].pop(job_id, None) or await deps.queue.claim(job_id, deps.worker_id)
        outcome = await deliver(deps, claimed, job_id, ctx["job_try"])
    except REDIS_ERRORS as exc:
        # Never let arq mark the job failed (it would drop it): run it again. The claim script makes
        # the rerun safe (a finished message is skipped).
        log.warning(
            "redis error, job will run again", extra={"message_id": message_id, "error": repr(exc)}
        )
        await asyncio.sleep(REDIS_ERROR_PAUSE_SECONDS)
        raise RetryJob() from exc
    # Every way deliver() returns went through a script that ended the job's run.
    ctx["ended"].add(job_id)
    return outcome
