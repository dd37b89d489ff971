"""docs/callbacks.md's receiver, run as published, verifies what the dispatcher signs."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.callbacks.body import render
from service.callbacks.signing import Signer
from service.queue.callbacks import CallbackEvent, CallbackType
from service.settings import CallbackSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "callbacks.md"
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


def receiver_app(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The first Python block of the page, executed as is."""
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)[:1]
    monkeypatch.setenv("ZAPQ_SIGNING_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["app"]


async def test_the_published_receiver_verifies_zapq_signatures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = receiver_app(monkeypatch)
    event = CallbackEvent(
        id="01JNE5ABC.1",
        type=CallbackType.INBOUND_MESSAGE,
        url="https://example.com/zapq",
        message_id="",
        status="",
        phone="5511987654321",
        at_ms=1_772_452_800_000,
        data={"text": "oi"},
        attempt=1,
    )
    body = render(event, {}, full_phones=False)
    headers = Signer(CallbackSettings(signing_secret=SECRET)).headers(
        event.id, body, int(time.time())
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        ok = await client.post("/zapq", content=body, headers=headers)
        again = await client.post("/zapq", content=body, headers=headers)
        tampered = await client.post("/zapq", content=body.replace("oi", "ok"), headers=headers)
    assert (ok.status_code, again.status_code, tampered.status_code) == (200, 200, 400)
    assert capsys.readouterr().out.count("inbound.message") == 1  # the repeat was dropped
