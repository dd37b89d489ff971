"""Locust users for the zapq API: single sends, batches, status reads, and the end-to-end time of
a sample of messages (enqueue -> sent) reported as its own request type.

The API key goes in every request through FastHttpUser.default_headers (FastHttpSession has no
mutable ``headers``). The end-to-end time comes from the message resource itself
(GET /v1/messages/{id}: the `sent` transition's time minus created_at), polled in a background
greenlet so the sending user keeps its pace; it shows in locust's stats as request type "E2E",
name "enqueue->sent", and a message that ends failed/dead/expired or is not sent within
E2E_TIMEOUT_SECONDS counts as a failure.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import datetime
from typing import Any

import gevent
from locust import FastHttpUser, between, task

API_KEY = os.environ.get(
    "ZAPQ_LOADTEST_API_KEY",
    "bench-key-2b7f4e91c05d48a3b6e0f1c9d8a7e523",  # loadtest.procs's
)
TEXT = "Olá! Sua fatura de R$ 1.234,56 vence em 25/11/2026."
# One message in this many is followed to `sent`: enough samples for percentiles, few polls.
E2E_SAMPLE_EVERY = int(os.environ.get("ZAPQ_LOADTEST_E2E_SAMPLE_EVERY", "10"))
# A message not sent after this long counts as a failed "enqueue->sent" (the design drains a
# 1,000-message burst in ~20 s; a minute means something is stuck).
E2E_TIMEOUT_SECONDS = float(os.environ.get("ZAPQ_LOADTEST_E2E_TIMEOUT_SECONDS", "60"))
E2E_POLL_SECONDS = 0.25  # status poll period while waiting; the time itself comes from the record
FINAL_FAILURES = {"failed", "dead", "expired", "cancelled"}
_numbers = itertools.count(900_000_000)
_sends = itertools.count()


def phone() -> str:
    return f"+5511{next(_numbers)}"


def sent_seconds(message: dict[str, Any]) -> float | None:
    """Seconds from created_at to the `sent` transition, or None while not sent."""
    sent = [t["at"] for t in message.get("history", []) if t["status"] == "sent"]
    if not sent:
        return None
    created = datetime.fromisoformat(message["created_at"])
    return (datetime.fromisoformat(sent[-1]) - created).total_seconds()


class ZapqUser(FastHttpUser):
    abstract = True
    default_headers = {"Authorization": f"Bearer {API_KEY}"}

    def follow(self, message_id: str) -> None:
        """Report enqueue -> sent for every E2E_SAMPLE_EVERY-th message, in the background."""
        if next(_sends) % E2E_SAMPLE_EVERY == 0:
            gevent.spawn(self._track, message_id)

    def _track(self, message_id: str) -> None:
        started = time.monotonic()
        error: Exception | None = None
        seconds = None
        while seconds is None and error is None:
            gevent.sleep(E2E_POLL_SECONDS)
            with self.client.get(
                f"/v1/messages/{message_id}",
                name="/v1/messages/{id} [e2e poll]",
                catch_response=True,
            ) as response:
                body = response.json() if response.status_code == 200 else {}
                response.success()  # the poll itself is not the measurement
            seconds = sent_seconds(body)
            if body.get("status") in FINAL_FAILURES:
                error = RuntimeError(f"message ended {body['status']}: {body.get('error_class')}")
            elif seconds is None and time.monotonic() - started > E2E_TIMEOUT_SECONDS:
                error = TimeoutError(f"not sent after {E2E_TIMEOUT_SECONDS:g} s")
        self.environment.events.request.fire(
            request_type="E2E",
            name="enqueue->sent",
            response_time=(seconds or 0.0) * 1000,
            response_length=0,
            exception=error,
            context={},
        )


class SingleSender(ZapqUser):
    """One POST /v1/messages per task, mostly normal priority, some urgent."""

    weight = 3
    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        self.sent: list[str] = []

    def _post(self, body: dict[str, Any]) -> None:
        with self.client.post("/v1/messages", json=body, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
            message_id = response.json()["id"]
        self.sent.append(message_id)
        self.follow(message_id)

    @task(10)
    def send(self) -> None:
        self._post({"to": phone(), "text": TEXT})

    @task(1)
    def send_urgent(self) -> None:
        self._post({"to": phone(), "text": TEXT, "priority": "urgent"})

    @task(2)
    def read_status(self) -> None:
        if self.sent:
            self.client.get(f"/v1/messages/{self.sent[-1]}", name="/v1/messages/{id}")


class BatchSender(ZapqUser):
    """POST /v1/messages/batch with 100 messages per request."""

    weight = 1
    wait_time = between(0, 0.05)

    @task
    def batch(self) -> None:
        messages = [{"to": phone(), "text": TEXT} for _ in range(100)]
        with self.client.post(
            "/v1/messages/batch", json={"messages": messages}, catch_response=True
        ) as response:
            body = response.json() if response.status_code == 202 else {}
            if body.get("accepted") != len(messages):
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
        self.follow(body["results"][0]["id"])
