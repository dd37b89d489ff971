"""The Dramatiq peer (runs in the bench's virtualenv, .tools/peers).

Worker: ``python -m dramatiq loadtest.peers.dramatiq_app --processes 1 --threads 10``; enqueue:
``python -m loadtest.peers.dramatiq_app enqueue MESSAGES_JSON``. Configuration, with the docs that
ask for it, is in README.md beside this file.
"""

from __future__ import annotations

import os
import sys
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.rate_limits import WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from loadtest.peers.sender import enqueued, load_messages, sender

QUEUE = "sends"
REDIS_URL = os.environ["PEERS_REDIS_URL"]
broker = RedisBroker(url=REDIS_URL)
dramatiq.set_broker(broker)

# One limit for every worker, kept in Redis. WindowRateLimiter is the one Dramatiq's reference
# recommends over BucketRateLimiter (no burst at bucket edges); window is in seconds.
LIMITER = WindowRateLimiter(
    RedisBackend(url=REDIS_URL),
    "evolution-zapq",
    limit=int(os.environ.get("PEERS_RATE_PER_SECOND", "50")),
    window=1,
)


@dramatiq.actor(queue_name=QUEUE)
def send_text(number: str, text: str) -> None:
    # Over the limit, acquire() raises RateLimitExceeded and the Retries middleware re-enqueues the
    # message with exponential backoff (docs: cookbook, "Rate limiting work"): its defaults apply.
    with LIMITER.acquire():
        sender().send(number, text)


def enqueue(path: str) -> None:
    messages = load_messages(path)
    started = time.monotonic()
    for message in messages:
        send_text.send(message["number"], message["text"])
    waiting = broker.client.llen(f"dramatiq:{QUEUE}")
    enqueued(waiting, len(messages), started)


if __name__ == "__main__":
    if sys.argv[1:2] != ["enqueue"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m loadtest.peers.dramatiq_app enqueue MESSAGES_JSON")
    enqueue(sys.argv[2])
