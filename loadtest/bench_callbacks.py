"""Client callbacks under failure: N callbacks delivered by one `zapq worker` to a receiver on
loopback that answers 500 to a share of the requests. Counts lost events and duplicates.

    .venv/bin/python -m loadtest.bench_callbacks [--events 10000] [--fail-ratio 0.3]
        [--workers 2 --kill-after 3000]

Redis holds N sent messages (as complete.lua leaves them); their DELIVERY_ACK receipts are applied
through receipt.lua in batches, which queues one message.delivered callback each, the way the
webhook endpoint does. The worker's dispatcher then delivers them with fast retries (10 of them:
an event is dead only after 11 refusals, 0.3^11 = 2e-6 each). "Lost" is an event neither
delivered nor in the callbacks' dead letters; a duplicate is an event answered 200 twice.
``--kill-after n`` SIGKILLs the first worker once n events have arrived: what it had in flight
comes back when its leases run out (request timeout 2 s + 10 s here) and is delivered by the
others, some of it twice (delivered, but not recorded before the kill).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from standardwebhooks import Webhook

from loadtest.bench_webhooks import preload
from loadtest.procs import cpu_seconds, process, zapq_env
from service.devstack import redis_server
from service.queue.callbacks import CallbackQueue
from service.queue.models import Status
from service.queue.receipts import Lifecycle, Receipt
from service.queue.store import MessageQueue
from service.settings import Settings
from tests.lifecycle.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"bench-callbacks-secret-32-bytes!").decode()
# 10 quick retries: the run measures delivery, not the production schedule (5 s ... 10 h).
RETRY_DELAYS = "0.05,0.1,0.2,0.4,0.8,1,1,1,1,1"
# Receipts per receipt.lua call while queueing the events.
_BATCH = 200
# Stop waiting this long after the last new delivery (seconds): nothing is left in flight then.
_QUIET_SECONDS = 10.0


async def queue_events(redis_url: str, count: int) -> float:
    """Apply a DELIVERY_ACK to each preloaded message: one callback each. Returns seconds."""
    redis = Redis.from_url(redis_url)
    lifecycle = Lifecycle(MessageQueue(redis, Settings(redis_url=redis_url)))
    started = time.perf_counter()
    for start in range(0, count, _BATCH):
        ids = range(start, min(start + _BATCH, count))
        await lifecycle.receipts([Receipt(f"BENCH{i:09d}", Status.DELIVERED) for i in ids])
    await redis.aclose()
    return time.perf_counter() - started


async def wait_delivered(receiver: Receiver, count: int, dead: Any) -> None:
    last, last_change = -1, time.monotonic()
    while True:
        done = len({r.event_id for r in receiver.delivered()}) + await dead()
        if done >= count:
            return
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > _QUIET_SECONDS:
            return
        await asyncio.sleep(0.2)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with redis_server(Path(tempfile.mkdtemp())) as redis_url:
        async with Receiver(fail_ratio=args.fail_ratio, seed=args.seed) as receiver:
            preload(redis_url, args.events, callback_url=receiver.url)
            queued_seconds = await queue_events(redis_url, args.events)
            env = zapq_env(
                redis_url,
                "http://127.0.0.1:9",  # no message is sent: the worker only delivers callbacks
                ZAPQ_CALLBACKS__ALLOW_PRIVATE_NETWORKS="true",
                ZAPQ_CALLBACKS__SIGNING_SECRET=SECRET,
                ZAPQ_CALLBACKS__RETRY_DELAYS_SECONDS=RETRY_DELAYS,
                ZAPQ_CALLBACKS__TIMEOUT_SECONDS="2",
            )
            redis = Redis.from_url(redis_url)
            callbacks = CallbackQueue(MessageQueue(redis, Settings(redis_url=redis_url)))

            async def dead() -> int:
                return (await callbacks.dead_letters(limit=1))[0]

            started = time.perf_counter()
            with contextlib.ExitStack() as stack:
                workers = [
                    stack.enter_context(process(["-m", "service", "worker"], env))
                    for _ in range(args.workers)
                ]
                if args.kill_after:
                    await wait_delivered(receiver, args.kill_after, dead)
                    workers[0].send_signal(signal.SIGKILL)
                await wait_delivered(receiver, args.events, dead)
                elapsed = time.perf_counter() - started
                worker_cpu = sum(cpu_seconds(w.pid) for w in workers[1 if args.kill_after else 0 :])
            dead_letters = await dead()
            await redis.aclose()
    delivered = {r.event_id for r in receiver.delivered()}
    sample = receiver.delivered()[:: max(len(delivered) // 100, 1)]
    verified = all(Webhook(SECRET).verify(r.raw, r.headers) for r in sample)
    return {
        "events": args.events,
        "fail_ratio": args.fail_ratio,
        "workers": args.workers,
        "killed_after": args.kill_after or None,
        "delivered_distinct": len(delivered),
        "dead_letters": dead_letters,
        "lost": args.events - len(delivered) - dead_letters,
        "duplicates": receiver.duplicates(),
        "requests": len(receiver.requests),
        "refused_500": sum(r.status == 500 for r in receiver.requests),
        "seconds_to_last_delivery": round(elapsed, 1),
        "delivered_per_second": round(len(delivered) / elapsed),
        "surviving_workers_cpu_seconds": round(worker_cpu, 1),
        "queueing_seconds": round(queued_seconds, 2),
        "signatures_verified_in_sample": verified,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fail-ratio", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kill-after", type=int, default=0, help="SIGKILL a worker after n")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    sys.exit(main())
