"""The OpenAPI document, made to tell the truth about every operation.

FastAPI documents what a route declares; the errors come from elsewhere (the guard, the body
limit, the exception handlers), so they are documented here, for every operation at once, from
what the operation is: a secured one can answer 401, 403, 429 and 503, one with a body 400
(malformed JSON), 413, 415 and 422, one with path parameters 404. Every error has the one body
``Error`` (``{"error": code, "detail": ...}``); FastAPI's own 422 model, which the API never
sends, is gone. Operation ids read as an SDK's method names (``createMessage``). Limits that are
settings (text length, batch size) are written in as configured.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from service.api.schemas import ErrorOut
from service.settings import Settings

# Route function names that do not read as a method name on their own.
_NAMES = {
    "queue_stats": "getQueueStats",
    "dead_letters": "listDeadLetters",
    "requeue_one": "requeueDeadLetter",
    "requeue_all": "requeueDeadLetters",
    "healthz": "getHealth",
    "readyz": "getReadiness",
}
_ERROR = {"$ref": "#/components/schemas/ErrorOut"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_STATUS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The body is not valid JSON (malformed_json).", {}),
    401: (
        "No key, or an unknown one (unauthorized).",
        {"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    403: ("The key lacks this operation's scope (forbidden).", {}),
    404: ("Not found, or not this key's (not_found).", {}),
    409: ("The resource's state forbids it (conflict).", {}),
    413: ("The body is larger than api.max_body_bytes (payload_too_large).", {}),
    415: ("The body is not application/json (unsupported_media_type).", {}),
    422: ("A field is invalid: detail names each (validation_error).", {}),
    429: (
        "The key's rate (rate_limited) or daily quota (quota_exceeded) is used up.",
        _RETRY_AFTER,
    ),
    431: ("The request's headers are larger than api.max_header_bytes.", {}),
    503: ("Redis is unreachable (unavailable) or the process is busy (overloaded).", _RETRY_AFTER),
}


def operation_id(route: APIRoute) -> str:
    """``create_message`` -> ``createMessage``: what a generated client names the method."""
    if route.name in _NAMES:
        return _NAMES[route.name]
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def statuses(operation: dict[str, Any]) -> set[int]:
    """Every error status an operation can answer, from what it is."""
    found = {int(code) for code in operation.get("responses", {}) if code[0] in "45"}
    found.add(431)
    if operation.get("security"):
        found |= {401, 403, 429, 503}
    if "requestBody" in operation:
        found |= {400, 413, 415, 422, 503}
    params = operation.get("parameters", [])
    if params:
        found.add(422)
    if any(param["in"] == "path" for param in params):
        found.add(404)
    return found


def _document(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for code in sorted(statuses(operation)):
        description, headers = _STATUS[code]
        entry: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": _ERROR}},
        }
        if headers:
            entry["headers"] = headers
        responses[str(code)] = entry


def _limits(schemas: dict[str, Any], settings: Settings) -> None:
    """The settings' limits in the request schemas, as this installation enforces them."""
    for name in ("TextMessageIn", "MediaMessageIn"):
        schemas[name]["properties"]["text"]["maxLength"] = settings.api.max_text_chars
    schemas["BatchIn"]["properties"]["messages"]["maxItems"] = settings.api.max_batch_items
    schemas["MediaIn"]["properties"]["media"]["maxLength"] = 4 * (settings.api.max_media_bytes // 3)


def document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["ErrorOut"].pop("$defs", {}))
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            _document(operation)
    _limits(schemas, settings)
    return doc


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the corrected document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
