"""Evolution API v2 client over one shared httpx.AsyncClient (contract: ../shared/evolution-api.md).

The hot path is send_text(): one POST per message at 50 msg/s per worker, so it keeps per-request
work small: the sendText URL is parsed once, bodies go through orjson, and by default the
requests ride aiohttp's transport under the httpx API (less CPU than httpcore; docs/benchmarks.md).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx
import orjson

from service.evolution.errors import (
    EvolutionError,
    EvolutionInstanceNotFound,
    EvolutionInstanceUnavailable,
    EvolutionInvalidRecipient,
    EvolutionRejected,
    EvolutionServerError,
    EvolutionTimeout,
    EvolutionTransportError,
    EvolutionUnauthorized,
    EvolutionUnexpectedResponse,
)
from service.evolution.schemas import SentMessage
from service.settings import EvolutionSettings

USER_AGENT = "zapq/0.1.0"
_JSON = {"Content-Type": "application/json"}


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        """Evolution sets no cookies; skip httpx's per-response urllib cookie-jar work."""


class _HttpClient(httpx.AsyncClient):
    """httpx.AsyncClient without a cookie jar (about 6 % of a request's CPU, profiled)."""

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:  # pragma: no cover - httpx API compatibility
        raise TypeError("this client keeps no cookies")


def _transport(settings: EvolutionSettings, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    if settings.transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return AiohttpTransport(limits=limits)
    return httpx.AsyncHTTPTransport(limits=limits)


class EvolutionClient:
    """One instance per process; safe for concurrent use by all its jobs."""

    def __init__(
        self,
        settings: EvolutionSettings,
        *,
        max_connections: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        read = settings.read_timeout_seconds + settings.typing_delay_ms / 1000
        self._http = _HttpClient(
            base_url=settings.base_url.rstrip("/"),
            headers={"apikey": settings.api_key.get_secret_value(), "User-Agent": USER_AGENT},
            # Evolution holds the response for the whole typing delay: the read budget includes it.
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_seconds, read=read, write=10.0, pool=read
            ),
            transport=transport or _transport(settings, limits),
        )
        # Parsed once: URL parsing is a visible share of a request's CPU at 50 msg/s.
        self._send_url = httpx.URL(
            f"{settings.base_url.rstrip('/')}/message/sendText/{settings.instance}"
        )

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
        """POST /message/sendText/{instance}; raises an EvolutionError subclass on any failure."""
        body: dict[str, Any] = {"number": number, "text": text}
        if delay_ms is not None:
            body["delay"] = delay_ms
        if link_preview is not None:
            body["linkPreview"] = link_preview
        response = await self._request("POST", self._send_url, body)
        if response.status_code != 201:
            raise classify(response.status_code, _json(response))
        return parse_sent(_json(response))

    # -- instance management (the operator) -------------------------------------------------------

    async def connection_state(self, instance: str | None = None) -> str:
        name = instance or self.settings.instance
        data = await self._expect(200, "GET", f"/instance/connectionState/{name}")
        state = (data.get("instance") or {}).get("state") if isinstance(data, dict) else None
        return str(state or "unknown")

    async def whatsapp_numbers(self, numbers: list[str]) -> list[dict[str, Any]]:
        path = f"/chat/whatsappNumbers/{self.settings.instance}"
        data = await self._expect(200, "POST", path, {"numbers": numbers})
        if not isinstance(data, list):
            raise EvolutionUnexpectedResponse(
                "whatsappNumbers did not return a list", status_code=200
            )
        return data

    async def create_instance(
        self, name: str, *, token: str | None = None, webhook: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "instanceName": name,
            "integration": "WHATSAPP-BAILEYS",
            "qrcode": False,
        }
        if token:
            body["token"] = token
        if webhook:
            body["webhook"] = webhook
        data = await self._expect(201, "POST", "/instance/create", body)
        return data if isinstance(data, dict) else {}

    async def delete_instance(self, name: str) -> None:
        await self._expect(200, "DELETE", f"/instance/delete/{name}")

    async def fetch_instances(self, name: str | None = None) -> list[dict[str, Any]]:
        params = {"instanceName": name} if name else None
        data = await self._expect(200, "GET", "/instance/fetchInstances", params=params)
        return data if isinstance(data, list) else []

    # -- plumbing ---------------------------------------------------------------------------------

    async def _expect(
        self,
        status: int,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = await self._request(method, path, body, params)
        data = _json(response)
        if response.status_code != status:
            raise classify(response.status_code, data)
        return data

    async def _request(
        self,
        method: str,
        url: httpx.URL | str,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = orjson.dumps(body) if body is not None else None
        try:
            return await self._http.request(
                method, url, content=content, params=params, headers=_JSON if content else None
            )
        except httpx.TimeoutException as exc:
            raise EvolutionTimeout(f"{method} timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise EvolutionTransportError(f"{method} failed: {type(exc).__name__}: {exc}") from exc


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return None


def _messages(data: Any) -> list[Any]:
    """``response.message`` of the error envelope; a string (401, 500) becomes a one-item list."""
    if not isinstance(data, dict):
        return []
    inner = data.get("response")
    raw = inner.get("message") if isinstance(inner, dict) else data.get("message")
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


def _describe(messages: list[Any]) -> str:
    """Error text safe to log and store: strings as given, objects reduced to their keys' values
    that carry no personal data (the exists:false object holds the phone number)."""
    parts = []
    for item in messages:
        if isinstance(item, str):
            parts.append(item[:300])
        elif isinstance(item, dict) and "exists" in item:
            parts.append(f"exists={item['exists']}")
        else:
            parts.append(type(item).__name__)
    return "; ".join(parts) or "no message"


def classify(status: int, data: Any) -> EvolutionError:
    """The EvolutionError for a non-success answer (contract section 4)."""
    messages = _messages(data)
    detail = f"HTTP {status}: {_describe(messages)}"
    if status == 400:
        if any(isinstance(m, dict) and m.get("exists") is False for m in messages):
            return EvolutionInvalidRecipient("number is not on WhatsApp", status_code=status)
        if any(isinstance(m, str) and m.startswith("Error") for m in messages):
            return EvolutionInstanceUnavailable(detail, status_code=status)
        return EvolutionRejected(detail, status_code=status)
    if status == 401:
        return EvolutionUnauthorized(
            f"{detail} (check ZAPQ_EVOLUTION__API_KEY)", status_code=status
        )
    if status == 404:
        return EvolutionInstanceNotFound(
            f"{detail} (check ZAPQ_EVOLUTION__INSTANCE)", status_code=status
        )
    if status >= 500:
        return EvolutionServerError(detail, status_code=status)
    return EvolutionUnexpectedResponse(detail, status_code=status)


def parse_sent(data: Any) -> SentMessage:
    """The 201 body (section 3): key.id, key.remoteJid; messageTimestamp int or string (v1)."""
    key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(key, dict) or not key.get("id"):
        raise EvolutionUnexpectedResponse("201 without key.id", status_code=201)
    raw_ts = data.get("messageTimestamp")
    try:
        timestamp = int(raw_ts) if raw_ts is not None else 0
    except (TypeError, ValueError):
        timestamp = 0
    return SentMessage(
        provider_id=str(key["id"]),
        remote_jid=str(key.get("remoteJid") or ""),
        status=str(data.get("status") or "PENDING"),
        timestamp=timestamp,
    )
