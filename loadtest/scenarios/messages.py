"""Locust users for the zapq API: single sends, batches, and status reads."""

from __future__ import annotations

import itertools
import os

from locust import FastHttpUser, between, task

API_KEY = os.environ.get("ZAPQ_LOADTEST_API_KEY", "bench-key")
TEXT = "Olá! Sua fatura de R$ 1.234,56 vence em 25/11/2026."
_numbers = itertools.count(900_000_000)


def phone() -> str:
    return f"+5511{next(_numbers)}"


class SingleSender(FastHttpUser):
    """One POST /v1/messages per task, mostly normal priority, some urgent."""

    weight = 3
    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {API_KEY}"
        self.sent: list[str] = []

    @task(10)
    def send(self) -> None:
        with self.client.post(
            "/v1/messages", json={"to": phone(), "text": TEXT}, catch_response=True
        ) as r:
            if r.status_code != 202:
                r.failure(f"status {r.status_code}")
            else:
                self.sent.append(r.json()["id"])

    @task(1)
    def send_urgent(self) -> None:
        self.client.post("/v1/messages", json={"to": phone(), "text": TEXT, "priority": "urgent"})

    @task(2)
    def read_status(self) -> None:
        if self.sent:
            self.client.get(f"/v1/messages/{self.sent[-1]}", name="/v1/messages/{id}")


class BatchSender(FastHttpUser):
    """POST /v1/messages/batch with 100 messages per request."""

    weight = 1
    wait_time = between(0, 0.05)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {API_KEY}"

    @task
    def batch(self) -> None:
        messages = [{"to": phone(), "text": TEXT} for _ in range(100)]
        self.client.post("/v1/messages/batch", json={"messages": messages})
