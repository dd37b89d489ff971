"""The simulator as a raw ASGI application (uvicorn + httptools + uvloop serve it).

Raw ASGI rather than a framework: at load-test rates the simulator shares two cores with the
workers it measures, and routing here is one dict lookup (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from service.sim import instances, media, messages, webhooks
from service.sim.config import SimConfig
from service.sim.control import Control
from service.sim.state import SimState
from service.sim.wire import HttpError, Request, Response

Handler = Callable[[SimState, Request, str], Awaitable[Response]]

#: (method, group, action) -> handler, for /<group>/<action>/<instance>. Express matches paths
#: case-insensitively, so group and action are compared lower-cased.
INSTANCE_ROUTES: dict[tuple[str, str, str], Handler] = {
    ("POST", "message", "sendtext"): messages.send_text,
    ("POST", "message", "sendmedia"): media.send_media,
    ("POST", "chat", "whatsappnumbers"): messages.whatsapp_numbers,
    ("GET", "instance", "connectionstate"): instances.connection_state,
    ("GET", "instance", "connect"): instances.connect,
    ("DELETE", "instance", "logout"): instances.logout,
    ("DELETE", "instance", "delete"): instances.delete,
    ("POST", "instance", "restart"): instances.restart,
    ("POST", "webhook", "set"): webhooks.set_webhook,
    ("GET", "webhook", "find"): webhooks.find_webhook,
}
#: The routes without an instance in the path: /<group>/<action>.
GLOBAL_ROUTES: dict[tuple[str, str, str], Handler] = {
    ("POST", "instance", "create"): instances.create,
    ("GET", "instance", "fetchinstances"): instances.fetch_instances,
}
#: Express's json() limit in Evolution's main.ts.
MAX_BODY_BYTES = 136 * 1024 * 1024
_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class SimApp:
    def __init__(self, config: SimConfig) -> None:
        self.state = SimState(config)
        self.control = Control(self.state, config)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            request = _request(scope, await _read_body(receive))
            status, body = await self.dispatch(request)
        except HttpError as error:
            status, body = error.response()
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Startup needs nothing (webhook delivery starts with the first event); shutdown
        stops the delivery workers and closes their HTTP client."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.state.webhooks.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def dispatch(self, request: Request) -> Response:
        path = request.url.partition("?")[0]
        if path.startswith("/_sim/"):
            return await self.control.handle(request, path[6:])
        parts = path.removesuffix("/").split("/")  # Express ignores one trailing slash
        if len(parts) == 4:
            handler = INSTANCE_ROUTES.get((request.method, parts[1].lower(), parts[2].lower()))
            if handler is not None:
                return await handler(self.state, request, unquote(parts[3]))
        elif len(parts) == 3:
            handler = GLOBAL_ROUTES.get((request.method, parts[1].lower(), parts[2].lower()))
            if handler is not None:
                return await handler(self.state, request, "")
        request.json()  # body-parser runs before routing: bad JSON is a 400 even here
        raise HttpError(404, [f"Cannot {request.method} {request.url}"])


def _request(scope: dict[str, Any], body: bytes) -> Request:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    url = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    return Request(scope["method"], url, query, scope["headers"], body)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpError(413, "request entity too large", error="Internal Server Error")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
