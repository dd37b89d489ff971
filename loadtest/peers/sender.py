"""sendText for the Python peers (Celery, Dramatiq): one keep-alive urllib3 pool per process.

Runs in the peers' virtualenv. urllib3 is the pool under requests, with less work per call: the
leanest common sync client, so the peers' CPU per message is not inflated by the HTTP layer.
"""

from __future__ import annotations

import json
import os
import time
from functools import cache

import urllib3


class SendError(RuntimeError):
    """The simulator did not answer 201: the job failed (the peer's own retry policy applies)."""


class Sender:
    def __init__(self, base_url: str, api_key: str, instance: str, connections: int) -> None:
        # block=True: never more sockets than concurrent jobs; the same 30 s read budget as zapq.
        self._pool = urllib3.connection_from_url(
            base_url,
            maxsize=connections,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=30.0),
        )
        self._path = f"/message/sendText/{instance}"
        self._headers = {"apikey": api_key, "Content-Type": "application/json"}

    def send(self, number: str, text: str) -> None:
        body = json.dumps({"number": number, "text": text}).encode()
        response = self._pool.request("POST", self._path, body=body, headers=self._headers)
        if response.status != 201:
            raise SendError(f"sendText answered {response.status}: {response.data[:200]!r}")


@cache
def sender() -> Sender:
    """The process's sender, built on first use from the bench's environment."""
    return Sender(
        os.environ["PEERS_SIM_URL"],
        os.environ["PEERS_EVOLUTION_API_KEY"],
        os.environ["PEERS_EVOLUTION_INSTANCE"],
        int(os.environ["PEERS_CONCURRENCY"]),
    )


def load_messages(path: str) -> list[dict[str, str]]:
    """The bench's messages file: ``[{"number": ..., "text": ...}, ...]``."""
    with open(path, encoding="utf-8") as file:
        messages: list[dict[str, str]] = json.load(file)
    return messages


def enqueued(waiting: int, expected: int, started: float) -> None:
    """Check the queue holds every message and print the line the bench reads (seconds since the
    ``time.monotonic()`` value ``started``)."""
    if waiting != expected:
        raise SystemExit(f"{waiting} jobs waiting in the queue, expected {expected}")
    print(json.dumps({"enqueued": waiting, "seconds": round(time.monotonic() - started, 2)}))
