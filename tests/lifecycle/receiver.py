"""A client-callback receiver on loopback (aiohttp): records every request and answers 200, or a
500 while its failure policy says so. Used by the tests and by loadtest/bench_callbacks.py.

Policies: ``fail_first`` (the first n attempts of each event fail), ``fail_ratio`` (each request
fails with this chance, seeded), ``always_fail``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from aiohttp import web

# Callbacks leave a worker within milliseconds of being due; 20 s tolerates a loaded machine.
WAIT_TIMEOUT_SECONDS = 20.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    raw: bytes
    status: int  # what the receiver answered

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(self.raw)
        return body

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    fail_first: int = 0
    fail_ratio: float = 0.0
    always_fail: bool = False
    seed: int = 7
    requests: list[Request] = field(default_factory=list)
    _attempts: Counter[str] = field(default_factory=Counter)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def __aenter__(self) -> Receiver:
        self._random = random.Random(self.seed)
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _fails(self, event_id: str) -> bool:
        self._attempts[event_id] += 1
        if self.always_fail or self._attempts[event_id] <= self.fail_first:
            return True
        return self.fail_ratio > 0 and self._random.random() < self.fail_ratio

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        status = 500 if self._fails(headers.get("webhook-id", "")) else 200
        self.requests.append(Request(request.path, headers, raw, status))
        return web.Response(status=status)

    def delivered(self, kind: str | None = None) -> list[Request]:
        """Requests answered 200 (of event type ``kind``), in arrival order."""
        return [
            r for r in self.requests if r.status == 200 and (kind is None or r.body["type"] == kind)
        ]

    def duplicates(self) -> int:
        """Events answered 200 more than once."""
        counts = Counter(r.event_id for r in self.delivered())
        return sum(count - 1 for count in counts.values())

    async def wait_for(self, count: int, kind: str | None = None) -> list[Request]:
        """The requests answered 200 once at least ``count`` (of type ``kind``) have arrived."""
        deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
        while len(self.delivered(kind)) < count:
            if time.monotonic() > deadline:
                got = len(self.delivered(kind))
                raise AssertionError(f"{got} of {count} {kind or 'callbacks'} arrived")
            await asyncio.sleep(0.02)
        return self.delivered(kind)
