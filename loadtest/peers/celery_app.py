"""The Celery peer (runs in the bench's virtualenv, .tools/peers).

Worker: ``celery -A loadtest.peers.celery_app worker -P threads -c 10 -n w1@%h``; enqueue:
``python -m loadtest.peers.celery_app enqueue MESSAGES_JSON``. Configuration, with the docs that
ask for it, is in README.md beside this file.
"""

from __future__ import annotations

import os
import sys
import time

from celery import Celery

from loadtest.peers.sender import enqueued, load_messages, sender

app = Celery("peers", broker=os.environ["PEERS_REDIS_URL"])
app.conf.update(
    # "Reserve one task at a time" (docs: userguide/optimizing): acknowledge after the task ran, so
    # a worker that dies mid-send hands its tasks back; prefetch only what the threads run.
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    # No result backend: the job's outcome is the simulator's record.
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)

# Celery's rate_limit is per worker instance (docs: Task.rate_limit); a limit shared by N workers is
# split N ways, which is what the bench passes here.
RATE_LIMIT = f"{os.environ.get('PEERS_WORKER_RATE_PER_SECOND', '12.5')}/s"


@app.task(name="send_text", rate_limit=RATE_LIMIT)
def send_text(number: str, text: str) -> None:
    sender().send(number, text)


def enqueue(path: str) -> None:
    messages = load_messages(path)
    started = time.monotonic()
    with app.producer_or_acquire() as producer:
        for message in messages:
            send_text.apply_async((message["number"], message["text"]), producer=producer)
    with app.connection_for_write() as connection:
        waiting = connection.default_channel.client.llen(app.conf.task_default_queue)
    enqueued(waiting, len(messages), started)


if __name__ == "__main__":
    if sys.argv[1:2] != ["enqueue"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m loadtest.peers.celery_app enqueue MESSAGES_JSON")
    enqueue(sys.argv[2])
