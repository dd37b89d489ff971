"""Request and response plumbing shared by the Evolution routes and the control API.

Errors are raised as HttpError and rendered in Evolution's envelope (contract section 0):
``{"status", "error", "response": {"message"}}`` where ``message`` is a list for 400/403/404 and
a string for 401 and unexpected JavaScript errors (500).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

#: (status, JSON body). Every answer is JSON, like Evolution's.
Response = tuple[int, bytes]

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}
_JSON_WHITESPACE = b" \t\n\r"


class HttpError(Exception):
    """An Evolution error answer; ``error`` defaults to the status's reason phrase."""

    def __init__(self, status: int, message: Any, error: str | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.error = error or _REASONS.get(status, "Internal Server Error")

    def response(self) -> Response:
        envelope = {
            "status": self.status,
            "error": self.error,
            "response": {"message": self.message},
        }
        return self.status, orjson.dumps(envelope)


def json_response(status: int, data: Any) -> Response:
    return status, orjson.dumps(data)


class Request:
    __slots__ = ("_json", "apikey", "content_type", "method", "query_string", "raw_body", "url")

    def __init__(
        self,
        method: str,
        url: str,
        query_string: bytes,
        headers: list[tuple[bytes, bytes]],
        raw_body: bytes,
    ) -> None:
        self.method = method
        self.url = url
        self.query_string = query_string
        self.raw_body = raw_body
        self.apikey: str | None = None
        self.content_type = b""
        # Header names are case-insensitive (Express's req.get): ASGI servers lower-case them.
        for name, value in headers:
            if name == b"apikey":
                self.apikey = value.decode("latin-1")
            elif name == b"content-type":
                self.content_type = value
        self._json: Any = None

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string.decode("latin-1")))

    def json(self) -> Any:
        """The body as Express's body-parser sees it (strict JSON, only for a JSON content type);
        a syntax error is Evolution's odd 400 whose ``error`` says "Internal Server Error"."""
        if self._json is None:
            self._json = _parse_body(self.raw_body, self.content_type)
        return self._json

    def object(self) -> dict[str, Any]:
        """The body as a DTO: ``Object.assign(new Dto(), body)`` turns an array into index keys."""
        body = self.json()
        if isinstance(body, dict):
            return body
        if isinstance(body, list):
            return {str(index): item for index, item in enumerate(body)}
        return {}


def _parse_body(raw: bytes, content_type: bytes) -> Any:
    if not raw or content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return {}
    stripped = raw.lstrip(_JSON_WHITESPACE)
    if stripped[:1] not in (b"{", b"["):
        # body-parser's strict mode: only objects and arrays.
        raise _syntax_error(raw, len(raw) - len(stripped))
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _syntax_error(raw, exc.pos) from exc


def _syntax_error(raw: bytes, position: int) -> HttpError:
    """V8's JSON.parse message: exact for a truncated body (the contract's example), the generic
    "Unexpected token" form otherwise."""
    text = raw.decode("utf-8", "replace")
    if position >= len(text.rstrip()):
        message = "Unexpected end of JSON input"
    else:
        context = (
            text if len(text) <= 32 else f"...{text[max(0, position - 10) : position + 10]}..."
        )
        message = f"Unexpected token '{text[position]}', \"{context}\" is not valid JSON"
    return HttpError(400, message, error="Internal Server Error")
