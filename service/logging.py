"""JSON-lines logging to stdout. Only entrypoints call configure_logging().

Log records carry ids as fields: ``log.info("sent", extra={"message_id": ..., "attempt": 2})``.
Phone numbers go through mask_phone(); message text is never logged.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted as a
# field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


#: The HTTP request being served (X-Request-ID): every line logged while serving it carries it.
REQUEST_ID: ContextVar[str | None] = ContextVar("zapq_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # arq logs one line per job start and end with the job's arguments: too chatty at 50 msg/s per
    # worker; zapq logs each outcome itself with the message id.
    logging.getLogger("arq").setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn.access", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def mask_phone(number: str) -> str:
    """Keep the country code's first two digits and the last four: ``55*******9999``."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 6) + digits[-4:]
