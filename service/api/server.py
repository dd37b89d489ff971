"""How `zapq api` serves: uvicorn's httptools protocol, with the request head bounded.

httptools buffers a header until it ends, whatever its size (a 128 MiB header was accepted), and
FastAPI never sees the request until then: the bound has to be in the protocol. A request whose
request line and headers pass ``api.max_header_bytes`` is answered 431 and the connection closed.
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that counts the bytes of each request's head as they arrive."""

    max_head_bytes = 16 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_open = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_head_bytes:
                self._refuse()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open = True
        self._head_bytes = 0

    def _refuse(self) -> None:
        detail = f"the request line and headers are larger than {self.max_head_bytes} bytes"
        body = orjson.dumps({"error": "headers_too_large", "detail": detail})
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.transport.close()
        self._head_open = False


def bounded_http(max_head_bytes: int) -> type[HttpToolsProtocol]:
    """The protocol class uvicorn.run(http=...) takes, with this bound."""
    return type("BoundedHttpTools", (BoundedHttpToolsProtocol,), {"max_head_bytes": max_head_bytes})
