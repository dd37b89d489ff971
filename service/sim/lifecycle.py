"""An instance's connection state machine and the events it emits (connectionUpdate() in
Evolution's Baileys service).

close --connect--> connecting --(connect_delay_seconds, the QR "scan")--> open
open/connecting --logout or state knob "close"--> close (statusReason 401: logged out for good;
  status.instance and logout.instance come first)
open --restart or state knob "connecting"--> connecting --> open (a close that reconnects emits
  no connection.update of its own)
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from service.sim import events
from service.sim.model import Instance
from service.sim.state import SimState

#: Baileys' DisconnectReason.loggedOut: the session is gone for good.
LOGGED_OUT = 401
# A 1x1 PNG: the QR code's base64 field only has to be a well-formed data URL.
_PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()
_PNG_URL = f"data:image/png;base64,{_PNG}"


def set_state(state: SimState, instance: Instance, new_state: str) -> None:
    """Move to ``new_state`` and emit what Evolution emits; ``connecting`` opens by itself after
    connect_delay_seconds."""
    if new_state == instance.state:
        return
    if new_state == "close":
        close(state, instance)
        return
    instance.set_state(new_state)
    instance.session += 1
    events.connection_update(state, instance)
    if new_state == "connecting":
        loop = asyncio.get_running_loop()
        delay = state.config.connect_delay_seconds
        loop.call_later(delay, _opened, state, instance, instance.session)


def _opened(state: SimState, instance: Instance, session: int) -> None:
    current = state.instances.get(instance.name) is instance and instance.session == session
    if current and instance.state == "connecting":  # not logged out, deleted or reset meanwhile
        set_state(state, instance, "open")


def close(state: SimState, instance: Instance, reason: int = LOGGED_OUT) -> None:
    instance.set_state("close")
    instance.session += 1
    instance.disconnection = (reason, instance.updated_at)
    events.connection_update(state, instance, reason)


def start_connecting(state: SimState, instance: Instance, number: str | None) -> dict[str, Any]:
    """A socket for a closed instance: connecting, a QR code (and a pairing code for a
    number), qrcode.updated."""
    set_state(state, instance, "connecting")
    instance.qr = {
        "pairingCode": f"{instance.id[:4]}{instance.id[9:13]}".upper() if number else None,
        "code": f"2@{instance.id},{instance.name},sim",
        "base64": _PNG_URL,
        "count": instance.qr.get("count", 0) + 1,
    }
    qr = instance.qr
    qrcode = {"instance": instance.name, "pairingCode": qr["pairingCode"], "code": qr["code"]}
    events.emit(state, instance, "qrcode.updated", {"qrcode": {**qrcode, "base64": qr["base64"]}})
    return instance.qr
