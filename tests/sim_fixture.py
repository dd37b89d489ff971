"""pytest plugin (registered by tests/conftest.py): the Evolution API simulator as a real process.

    sim_url  session   base URL of one `python -m service.sim` on a free 127.0.0.1 port
    sim      function  a SimControl on it, reset (config included) before the test

The simulator's defaults: global key "evo-key", one connected instance "zapq" without a token of
its own, no latency, no failures, no webhooks. Change them per test with ``sim.configure(...)``
(global knobs) or ``sim.instance(name, ...)`` (one instance).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.devstack import free_port, stop_process, wait_for_port

# Startup is ~0.2 s; 15 s tolerates a loaded CI machine.
_START_TIMEOUT_SECONDS = 15
# The control API answers in milliseconds; a stuck simulator should fail the test, not hang it.
_CONTROL_TIMEOUT_SECONDS = 10


class SimControl:
    """The simulator's /_sim control API, synchronously (handy inside async tests too)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=_CONTROL_TIMEOUT_SECONDS)

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change some knobs (latency_ms, fail_5xx_rate, invalid_numbers, ...); the full config."""
        return self._call("POST", "/_sim/config", knobs)  # type: ignore[no-any-return]

    def reset(self, *, config: bool = True) -> None:
        """Clear counters, messages and created instances; ``config`` also restores the knobs."""
        self._call("POST", "/_sim/reset", {"config": config})

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sim/stats")  # type: ignore[no-any-return]

    def messages(self, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        """Accepted sends, oldest first: number, text, key_id, remote_jid, received_at, instance."""
        params = {"offset": offset} | ({"limit": limit} if limit is not None else {})
        return self._call("GET", "/_sim/messages", params=params)  # type: ignore[no-any-return]

    def instance(self, name: str, **knobs: Any) -> dict[str, Any]:
        """Change one instance (knob overrides, connection_closed, state, reset=True); with no
        knobs, just read it. Its effective knobs, state, counters and webhook."""
        if not knobs:
            return self._call("GET", f"/_sim/instances/{name}")  # type: ignore[no-any-return]
        return self._call("POST", f"/_sim/instances/{name}", knobs)  # type: ignore[no-any-return]

    def instances(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_sim/instances")  # type: ignore[no-any-return]

    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook post attempt, oldest first: event, instance, url, status (HTTP, None
        when the receiver did not answer), error, attempt, at, key_id, ack."""
        return self._call("GET", "/_sim/webhooks")  # type: ignore[no-any-return]

    def inbound(
        self, text: str, sender: str = "5511987654321", instance: str = "zapq", **extra: Any
    ) -> dict[str, Any]:
        """A customer's message to ``instance`` (messages.upsert); the messageRaw emitted."""
        body = {"instance": instance, "from": sender, "text": text, **extra}
        return self._call("POST", "/_sim/inbound", body)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, body: Any = None, params: dict[str, int] | None = None
    ) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        if response.status_code != 200:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()


@pytest.fixture(scope="session")
def sim_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = Path(tmp_path_factory.mktemp("evolution-sim")) / "sim.log"
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.sim", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for_port(port, _START_TIMEOUT_SECONDS, proc=proc)
        except Exception as exc:
            raise RuntimeError(f"the simulator did not start: {log.read_text()}") from exc
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def _sim_control(sim_url: str) -> Iterator[SimControl]:
    control = SimControl(sim_url)
    yield control
    control.close()


@pytest.fixture
def sim(_sim_control: SimControl) -> SimControl:
    _sim_control.reset(config=True)
    return _sim_control
