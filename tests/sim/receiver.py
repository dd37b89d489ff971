"""A webhook receiver on loopback for the simulator's webhook tests: records every post and
answers with scripted statuses (then 200)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Webhook posts leave the simulator within milliseconds; 10 s tolerates a loaded machine.
WAIT_TIMEOUT_SECONDS = 10


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds, failing after WAIT_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int  # what the receiver answered


class Receiver:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        #: Statuses to answer, in order, before answering 200.
        self.script: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll keeps shutdown() (once per test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    headers = {name.lower(): value for name, value in self.headers.items()}
                    receiver.posts.append(Post(self.path, headers, json.loads(raw), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read self.posts."""

        return Handler

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """Bodies received, in arrival order (of one event when ``name`` is given)."""
        with self._lock:
            return [p.body for p in self.posts if name is None or p.body["event"] == name]

    def wait_count(self, count: int, name: str | None = None) -> list[dict[str, Any]]:
        """The bodies received once at least ``count`` (of event ``name``) have arrived."""
        wait_until(lambda: len(self.events(name)) >= count, f"{count} x {name or 'any event'}")
        return self.events(name)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
