"""schemathesis hooks (SCHEMATHESIS_HOOKS=tests.security.st_hooks): what the schema cannot say.

The schema gives every constraint on one field; a few rules relate a field to the world or to
another field: a number phonenumbers knows, an IANA time zone, an expiry in the future and after
send_at, a base64 document's file name, no caption on audio, a sender that exists, the
Idempotency-Key header equal to the body's key, metadata under api.max_metadata_bytes. The fuzzer
learns the phone format here, and each request it generates as *valid* is made to follow these
rules before it is sent; requests generated as invalid are left alone, so they must be refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import schemathesis
from hypothesis import strategies as st

PHONES = ["+55 11 98765-4321", "+5511912345678", "(11) 98765-4321", "+1 650 253 0000"]
schemathesis.openapi.format("phone", st.sampled_from(PHONES))


def _message(body: dict[str, Any], header_key: str | None) -> None:
    """Make one generated-valid message follow the cross-field rules."""
    now = datetime.now(UTC)
    body["to"] = PHONES[0]
    if body.get("send_at") is not None:
        body["send_at"] = (now + timedelta(hours=1)).isoformat()
    if body.get("expires_at") is not None:
        body["expires_at"] = (now + timedelta(hours=2)).isoformat()
    if body.get("sender") is not None:
        body["sender"] = None  # a sender that exists is not the schema's to say
    if body.get("metadata") and len(orjson.dumps(body["metadata"])) > 4096:
        body["metadata"] = None
    if header_key is not None and body.get("idempotency_key") is not None:
        body["idempotency_key"] = header_key
    media = body.get("media")
    if body.get("kind") == "media" and isinstance(media, dict):
        if not str(media.get("media", "")).startswith("https://"):
            media["file_name"] = media.get("file_name") or "boleto.pdf"
        if media.get("mediatype") == "audio":
            body["text"] = ""


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if case.path_parameters and "phone" in case.path_parameters:
        case.path_parameters["phone"] = PHONES[1]
    body = case.body if isinstance(case.body, dict) else None
    header = (case.headers or {}).get("Idempotency-Key")
    if body is None:
        return
    if case.operation.path == "/v1/messages":
        _message(body, header)
    elif case.operation.path == "/v1/senders/{name}" and body.get("time_zone") is not None:
        body["time_zone"] = "America/Sao_Paulo"  # an IANA zone: the schema says "a string"
    elif case.operation.path == "/v1/messages/batch":
        for item in body.get("messages", []):
            if isinstance(item, dict):
                _message(item, None)
