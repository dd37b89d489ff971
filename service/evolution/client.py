"""Evolution API v2 client over one shared httpx.AsyncClient (contract: evolution-api.md).

The hot path is send_text(): one POST per message at 50 msg/s per worker, so per-request work is
kept small: bodies go through orjson, requests ride aiohttp's transport under the httpx API by
default (a fifth of httpcore's CPU), and send_text hands a prebuilt request straight to the
client's transport, skipping AsyncClient.send's auth, redirect and cookie machinery, which
Evolution never needs (a third of the remaining CPU). Figures: docs/benchmarks.md.
Classification of the answers lives in responses.py; the error tree in errors.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any

import aiohttp
import httpx
import orjson

from service.evolution.errors import (
    EvolutionTimeout,
    EvolutionTransportError,
    EvolutionUnexpectedResponse,
)
from service.evolution.responses import classify, parse_sent
from service.evolution.schemas import SentMessage
from service.settings import EvolutionSettings

try:
    USER_AGENT = f"zapq/{version('zapq')}"
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    USER_AGENT = "zapq/dev"

_JSON = {"Content-Type": "application/json"}
# Sending a few hundred bytes never waits on the socket unless the peer stopped reading: 10 s
# bounds that without ever firing in normal operation.
_WRITE_TIMEOUT_SECONDS = 10.0
# Evolution runs on Node, whose HTTP server drops idle keep-alive connections after 5 s: reusing
# one at that instant fails the request, so the client lets them go first.
_KEEPALIVE_EXPIRY_SECONDS = 4.0


def _transport(settings: EvolutionSettings, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    if settings.transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        # aiohttp's TCPConnector(limit=max_connections, keepalive_timeout=keepalive_expiry).
        transport: httpx.AsyncBaseTransport = AiohttpTransport(limits=limits)
        return transport
    return httpx.AsyncHTTPTransport(limits=limits)


def _timeout(settings: EvolutionSettings) -> httpx.Timeout:
    return httpx.Timeout(
        connect=settings.connect_timeout_seconds,
        # Evolution holds the response for the whole typing delay: the read budget includes it.
        read=settings.read_timeout_seconds + settings.typing_delay_ms / 1000,
        write=_WRITE_TIMEOUT_SECONDS,
        # A pooled connection frees up within one request's longest time. (aiohttp applies this
        # budget to the wait for a connection plus connecting.)
        pool=settings.request_timeout_seconds,
    )


class EvolutionClient:
    """One per process, shared by all its jobs; every failure is an EvolutionError."""

    def __init__(
        self,
        settings: EvolutionSettings,
        *,
        max_connections: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=_KEEPALIVE_EXPIRY_SECONDS,
        )
        base_url = settings.base_url.rstrip("/")
        headers = {"apikey": settings.api_key.get_secret_value(), "User-Agent": USER_AGENT}
        timeout = _timeout(settings)
        self._transport = transport or _transport(settings, limits)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            transport=self._transport,
            # Evolution is reached directly: no proxy variables, no .netrc.
            trust_env=False,
        )
        # What every sendText shares, built once: URL parsing and header merging are a visible
        # share of a request's CPU at 50 msg/s.
        self._send_url = httpx.URL(f"{base_url}/message/sendText/{settings.instance}")
        self._media_url = httpx.URL(f"{base_url}/message/sendMedia/{settings.instance}")
        self._send_headers = httpx.Headers({**headers, **_JSON})
        self._send_extensions = {"timeout": timeout.as_dict()}

    async def __aenter__(self) -> EvolutionClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- sending ----------------------------------------------------------------------------------

    async def send_text(
        self,
        number: str,
        text: str,
        *,
        delay_ms: int | None = None,
        link_preview: bool | None = None,
    ) -> SentMessage:
        """POST /message/sendText/{instance} with the flat v2 body; raises an EvolutionError."""
        body: dict[str, Any] = {"number": number, "text": text}
        if delay_ms is not None:
            body["delay"] = delay_ms
        if link_preview is not None:
            body["linkPreview"] = link_preview
        return await self._send(self._send_url, body)

    async def send_media(
        self,
        number: str,
        mediatype: str,
        media: str,
        *,
        mimetype: str | None = None,
        file_name: str | None = None,
        caption: str | None = None,
        delay_ms: int | None = None,
    ) -> SentMessage:
        """POST /message/sendMedia/{instance} (contract section 8): ``media`` is an http(s) URL,
        which Evolution fetches when it sends, or raw base64; raises an EvolutionError."""
        body: dict[str, Any] = {"number": number, "mediatype": mediatype, "media": media}
        optional = {"mimetype": mimetype, "fileName": file_name, "caption": caption}
        body.update({key: value for key, value in optional.items() if value})
        if delay_ms is not None:
            body["delay"] = delay_ms
        return await self._send(self._media_url, body)

    async def _send(self, url: httpx.URL, body: dict[str, Any]) -> SentMessage:
        """One send, handed straight to the transport (see the module docstring)."""
        request = httpx.Request(
            "POST",
            url,
            headers=self._send_headers,
            content=orjson.dumps(body),
            extensions=self._send_extensions,
        )
        with _transport_errors("POST"):
            response = await self._transport.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        if response.status_code != 201:
            raise classify(response.status_code, _json(content))
        return parse_sent(_json(content))

    # -- other routes (instance management: service/evolution/admin.py) ----------------------------

    async def whatsapp_numbers(self, numbers: list[str]) -> list[dict[str, Any]]:
        """One OnWhatsAppDto per number: ``{jid, exists, number[, name][, lid]}``."""
        path = f"/chat/whatsappNumbers/{self.settings.instance}"
        return json_list(await self.call(200, "POST", path, {"numbers": numbers}))

    # -- plumbing ---------------------------------------------------------------------------------

    async def call(
        self,
        status: int,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """One request off the hot path: the parsed JSON body when Evolution answers ``status``,
        else the classified EvolutionError."""
        answered, data = await self._request(method, path, body, params)
        if answered != status:
            raise classify(answered, data)
        return data

    async def _request(
        self,
        method: str,
        url: httpx.URL | str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or None); transport failures become EvolutionErrors."""
        content = orjson.dumps(body) if body is not None else None
        with _transport_errors(method):
            response = await self._http.request(
                method, url, content=content, params=params, headers=_JSON if content else None
            )
        return response.status_code, _json(response.content)


@contextmanager
def _transport_errors(method: str) -> Iterator[None]:
    """No usable answer: httpx's (and aiohttp's) errors as EvolutionErrors."""
    try:
        yield
    except httpx.TimeoutException as exc:
        if _timed_out(exc):
            raise EvolutionTimeout(f"{method} timed out ({type(exc).__name__})") from exc
        detail = f"{method} failed: {type(exc.__cause__).__name__}: {exc}"[:300]
        raise EvolutionTransportError(detail) from exc
    except (httpx.RequestError, aiohttp.ClientError) as exc:
        # aiohttp's own errors can escape httpx-aiohttp's mapping (a malformed response).
        detail = f"{method} failed: {type(exc).__name__}: {exc}"[:300]
        raise EvolutionTransportError(detail) from exc


def _timed_out(exc: httpx.TimeoutException) -> bool:
    """httpx-aiohttp maps every aiohttp connection error, a refused connection included, to
    ConnectTimeout; only a real timeout may mean "sent, answer lost"."""
    cause = exc.__cause__
    return not isinstance(cause, aiohttp.ClientError) or isinstance(cause, TimeoutError)


def _json(content: bytes) -> Any:
    """The parsed body, or None when it is empty or not JSON (classified by its status)."""
    try:
        return orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return None


def json_list(data: Any) -> list[dict[str, Any]]:
    """A JSON array answer (fetchInstances, whatsappNumbers), or EvolutionUnexpectedResponse."""
    if not isinstance(data, list):
        raise EvolutionUnexpectedResponse("expected a JSON array", status_code=200)
    return data
