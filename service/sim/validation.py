"""Body validation that fails with the exact messages Evolution returns (contract section 2).

Evolution validates with the npm ``jsonschema`` package and reports, per error, the failing
subschema's ``description`` if it has one, else the error's ``stack`` with the first
``"instance."`` removed. The Python ``jsonschema`` library finds the same errors in the same order
(schema keyword order); the keyword functions below only reword them the way the npm package does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, ValidationError, validators

Keyword = Callable[[Any, Any, Any, Any], Iterator[ValidationError]]


def _js_string(value: Any) -> str:
    """``String(value)`` in JavaScript, for the scalar values an enum holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _types(value: Any) -> str:
    return ",".join([value] if isinstance(value, str) else value)


#: npm jsonschema's message for each keyword, from the keyword's value in the schema.
_NPM_MESSAGES: dict[str, Callable[[Any], str]] = {
    "type": lambda types: "is not of a type(s) " + _types(types),
    "minItems": lambda limit: f"does not meet minimum length of {limit}",
    "minLength": lambda limit: f"does not meet minimum length of {limit}",
    "maxItems": lambda limit: f"does not meet maximum length of {limit}",
    "maxLength": lambda limit: f"does not meet maximum length of {limit}",
    "uniqueItems": lambda _: "contains duplicate item",
    "pattern": lambda pattern: "does not match pattern " + json.dumps(pattern),
    "enum": lambda values: "is not one of enum values: " + ",".join(map(_js_string, values)),
}


def _reworded(keyword: str, message: Callable[[Any], str]) -> Keyword:
    """The Python keyword check, raising npm's message instead of its own."""
    original: Keyword = Draft7Validator.VALIDATORS[keyword]

    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        for _ in original(validator, value, instance, schema):
            yield ValidationError(message(value))

    return check


def _required(validator: Any, names: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if isinstance(instance, dict):
        for name in names:
            if name not in instance:
                yield ValidationError("requires property " + json.dumps(name))


_NpmValidator = validators.extend(
    Draft7Validator,
    {
        "required": _required,
        **{keyword: _reworded(keyword, text) for keyword, text in _NPM_MESSAGES.items()},
    },
)


def _suffix(key: str | int) -> str:
    """npm jsonschema's ``makeSuffix``: ``.name``, ``[0]`` or ``["odd name"]``."""
    text = str(key)
    if text.isdigit():
        return f"[{text}]"
    if any(char in text for char in ".[] \t\n") or text[:1].isdigit():
        return "[" + json.dumps(text) + "]"
    return "." + text


def _message(error: ValidationError) -> str:
    description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    if isinstance(description, str):
        return description
    path = "".join(_suffix(key) for key in error.absolute_path)
    return f"instance{path} {error.message}".replace("instance.", "", 1)


class BodySchema:
    """One request-body schema; ``errors(body)`` is the 400 message list (empty when valid)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = _NpmValidator(schema)

    def errors(self, body: Any) -> list[str]:
        return [_message(error) for error in self._validator.iter_errors(body)]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files(__package__).joinpath(name).read_text())
    return data


_SEND_TEXT_SCHEMA = _load("sendtext.schema.json")
_SEND_TEXT = BodySchema(_SEND_TEXT_SCHEMA)
_SEND_TEXT_FAST_FIELDS = frozenset({"number", "text", "delay", "linkPreview"})


def send_text_errors(body: dict[str, Any]) -> list[str]:
    """The sendText schema messages. Plain bodies (what zapq sends) skip the generic validator:
    they are valid by inspection, and this runs at load-test rates."""
    if (
        type(body.get("number")) is str
        and type(body.get("text")) is str
        and type(body.get("delay", 0)) is int
        and type(body.get("linkPreview", False)) is bool
        and _SEND_TEXT_FAST_FIELDS.issuperset(body)
    ):
        return []
    return _SEND_TEXT.errors(body)


def _media_schema() -> dict[str, Any]:
    """``mediaMessageSchema`` (src/validate/message.schema.ts, 2.3.6): sendText's number, delay,
    quoted, everyOne and mentioned, and the media fields; ``media`` itself is not required."""
    shared = _SEND_TEXT_SCHEMA["properties"]
    return {
        "type": "object",
        "properties": {
            "number": shared["number"],
            "mediatype": {"type": "string", "enum": ["image", "document", "video", "audio"]},
            "mimetype": {"type": "string"},
            "media": {"type": "string"},
            "fileName": {"type": "string"},
            "caption": {"type": "string"},
            **{name: shared[name] for name in ("delay", "quoted", "everyOne", "mentioned")},
        },
        "required": ["number", "mediatype"],
    }


MEDIA_SCHEMA = BodySchema(_media_schema())

#: ``whatsappNumberSchema`` (src/validate/chat.schema.ts): ``numbers`` is not required.
WHATSAPP_NUMBERS = BodySchema(
    {
        "type": "object",
        "properties": {
            "numbers": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {
                    "type": "string",
                    "description": '"numbers" must be an array of numeric strings',
                },
            }
        },
    }
)

INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")
#: The boolean settings of an instance (create's body, fetchInstances' Setting row).
SETTING_FLAGS = (
    "rejectCall",
    "groupsIgnore",
    "alwaysOnline",
    "readMessages",
    "readStatus",
    "syncFullHistory",
)
_BOOLEAN = {"type": "boolean"}
_STRING = {"type": "string"}

#: The part of ``instanceSchema`` (src/validate/instance.schema.ts) that a create request uses.
#: ``Integration`` is spelled with a capital I there, so the real ``integration`` is not checked.
INSTANCE = BodySchema(
    {
        "type": "object",
        "properties": {
            "instanceName": _STRING,
            "token": _STRING,
            "number": {"type": "string", "pattern": r"^\d+[\.@\w-]+"},
            "qrcode": _BOOLEAN,
            "Integration": {"type": "string", "enum": list(INTEGRATIONS)},
            **dict.fromkeys(SETTING_FLAGS, _BOOLEAN),
            "msgCall": _STRING,
        },
        "if": {"propertyNames": {"enum": ["instanceName"]}},
        "then": {
            "properties": {
                "instanceName": {
                    "minLength": 1,
                    "description": 'The "instanceName" cannot be empty',
                }
            }
        },
    }
)
