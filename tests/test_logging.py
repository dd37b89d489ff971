"""JSON log lines carry ids as fields; phone numbers are masked."""

from __future__ import annotations

import logging

import orjson

from service.logging import JsonFormatter, mask_phone


def test_phone_is_masked() -> None:
    assert mask_phone("+55 11 98765-4321") == "55*******4321"
    assert mask_phone("1234") == "****"


def test_json_line_has_fields() -> None:
    record = logging.LogRecord("zapq.worker", logging.INFO, __file__, 1, "sent", None, None)
    record.message_id = "01ABC"
    record.attempt = 2
    line = orjson.loads(JsonFormatter().format(record))
    assert line["msg"] == "sent" and line["level"] == "info"
    assert (line["message_id"], line["attempt"]) == ("01ABC", 2)
    assert line["ts"].endswith("Z")
