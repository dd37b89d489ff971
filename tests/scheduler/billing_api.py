"""A billing system's API on a real loopback HTTP server, for the scheduler tests and benchmark.

    /cursor/charges   {"data": [...], "next_cursor": "500" | null, "total": n}
    /page/charges     ?page=1&per_page=500 -> {"data": [...], "total": n}
    /link/charges     {"items": [...], "links": {"next": "/link/charges?offset=..." | null}}
    /list/charges     the whole list as a JSON array (no pagination)
    /files/charges.csv, /files/charges.jsonl   the charges as a file
    /redirect?to=URL  302 to URL (absolute, or a path on this server); without ``to``, to itself

Knobs (attributes, changed by the test): ``token`` (401 without "Bearer <token>"), ``fail_next``
(that many 503 answers first), ``fail_always`` (500 forever), ``fail_from`` (500 from that many
requests on), ``link_base`` (prefix of /link/charges' next links: another server's URL).
``requests`` records each request's path and query, ``headers`` its headers (names lowercased).
``tls=(cert, key)`` serves https. Charges are any sequence of dicts: a list, or a LazyCharges that
makes each one on demand (100,000 charges without holding them).
"""

from __future__ import annotations

import csv
import io
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, overload
from urllib.parse import parse_qs, urlsplit

import orjson

from service.devstack import free_port

CSV_COLUMNS = ["id", "customer_name", "phone", "amount", "due_date", "status", "payment_link"]


class LazyCharges(Sequence[dict[str, Any]]):
    """``count`` charges made on demand by ``make(index)``."""

    def __init__(self, count: int, make: Callable[[int], dict[str, Any]]) -> None:
        self.count, self.make = count, make

    def __len__(self) -> int:
        return self.count

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self.make(i) for i in range(*index.indices(self.count))]
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.make(index)


def generated_charge(index: int, run_date: date) -> dict[str, Any]:
    """A plausible charge: due dates cycle through -10 .. +5 days around ``run_date``, one in
    sixteen paid, phones valid Brazilian mobiles."""
    return {
        "id": f"ch_{index:07d}",
        "customer": {"name": f"Cliente {index} da Silva", "phone": f"+55 11 9{index:08d}"},
        "amount": f"{(index % 5000) + 19.9:.2f}",
        "due_date": (run_date + timedelta(days=(index % 16) - 10)).isoformat(),
        "status": "paid" if index % 16 == 3 else "open",
        "payment_link": f"https://pay.example/{index}",
    }


class BillingApi:
    def __init__(
        self,
        charges: Sequence[dict[str, Any]],
        token: str = "",
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.charges = charges
        self.token = token
        self.fail_next = 0
        self.fail_always = False
        self.fail_from: int | None = None
        self.link_base = ""
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> BillingApi:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def reset(self, charges: Sequence[dict[str, Any]], token: str = "") -> None:
        with self._lock:
            self.charges, self.token = charges, token
            self.fail_next, self.fail_always, self.fail_from = 0, False, None
            self.link_base = ""
            self.requests, self.headers = [], []

    def answer(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append((path, query))
            self.headers.append(headers)
            if self.fail_always or (
                self.fail_from is not None and len(self.requests) > self.fail_from
            ):
                return 500, b'{"error": "down"}'
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, b'{"error": "busy"}'
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, b'{"error": "unauthorized"}'
        if path.startswith("/files/"):
            return 200, self._file(path)
        return 200, orjson.dumps(self._page(path, query))

    def _page(self, path: str, query: dict[str, str]) -> Any:
        total, size = len(self.charges), int(query.get("per_page", query.get("limit", "100")))
        if path == "/list/charges":
            return list(self.charges[:])
        if path == "/page/charges":
            start = (int(query.get("page", "1")) - 1) * size
            return {"data": self.charges[start : start + size], "total": total}
        start = int(query.get("cursor", query.get("offset", "0")))
        items, end = self.charges[start : start + size], start + size
        if path == "/link/charges":
            link = f"{self.link_base}/link/charges?offset={end}&limit={size}"
            link = link if end < total else None
            return {"items": items, "links": {"next": link}}
        return {"data": items, "next_cursor": str(end) if end < total else None, "total": total}

    def _file(self, path: str) -> bytes:
        if path.endswith(".jsonl"):
            return b"".join(orjson.dumps(charge) + b"\n" for charge in self.charges)
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.charges)
        return out.getvalue().encode()


def _handler(api: BillingApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, delayed ACKs add 40 ms each.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            headers = {name.lower(): value for name, value in self.headers.items()}
            if parts.path == "/redirect":
                api.answer(parts.path, query, headers)
                self.send_response(302)
                self.send_header("Location", query.get("to", "/redirect"))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, body = api.answer(parts.path, query, headers)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return None

    return Handler
