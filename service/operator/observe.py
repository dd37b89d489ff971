"""One look at a WhatsAppInstance's session (the timer, and the end of setup and of a spec change):
Evolution's state -> the phase and the Connected condition, the QR code into the operator's
Secret, the sender in zapq's registry (routing only while connected and not paused), today's
sends.

    Evolution state            phase            sender
    open                       Connected        routed (unless spec.paused)
    connecting, never open     AwaitingQRCode   paused; the current QR code is kept in the Secret
    connecting, was open       Connecting       paused until open again
    close, never open          AwaitingQRCode   paused; connect is called for a QR code
    close, was open            Disconnected     paused; reason LoggedOut (401) or Closed
    refused (QR code limit)    Disconnected     paused
    unknown (not loaded)       Error            paused
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from service.evolution.admin import BUSINESS, EvolutionAdmin
from service.evolution.errors import EvolutionUnexpectedResponse
from service.operator.kube import KubeClient
from service.operator.resource import InstanceSpec, Phase, Resource
from service.operator.sender import Desired, connection_of, sends_today, sync
from service.operator.status import StatusWriter, now_iso
from service.senders.registry import SenderRegistry

# Baileys' reason for a session closed by the phone (logged out): it will not come back by itself.
_LOGGED_OUT = 401


def qr_keys(
    resource: Resource, code: str | None = None, pairing: str | None = None
) -> dict[str, str | None]:
    """The resource's keys in the QR code Secret (None removes one)."""
    return {f"{resource.name}.qr": code, f"{resource.name}.pairing-code": pairing}


async def instance_token(admin: EvolutionAdmin, name: str) -> SecretStr:
    """An existing instance's own key (fetchInstances shows it to the global key)."""
    row = await _row(admin, name)
    token = row.get("token")
    if not isinstance(token, str) or not token:
        raise EvolutionUnexpectedResponse("fetchInstances shows no token", status_code=200)
    return SecretStr(token)


async def _row(admin: EvolutionAdmin, name: str) -> dict[str, Any]:
    rows = await admin.fetch_instances(name)
    return rows[0] if rows else {}


@dataclass(slots=True)
class Observer:
    admin: EvolutionAdmin
    registry: SenderRegistry
    kube: KubeClient
    qr_secret: str
    resource: Resource
    spec: InstanceSpec
    instance: str
    base_url: str
    writer: StatusWriter

    async def run(self, token: SecretStr | None = None) -> None:
        """``token``: the instance's own key when the caller has it (setup), else fetched when
        the sender has to be written."""
        state = await self.admin.connection_state(self.instance)
        phase, reason, message = await self._phase(state)
        self.writer.set(connectionState=state)
        self.writer.phase(phase)
        self.writer.condition("Connected", phase is Phase.CONNECTED, reason, message)
        paused = self.spec.paused or phase is not Phase.CONNECTED
        desired = Desired(self.instance, self.base_url, self.spec, paused, connection_of(state))

        async def own_key() -> SecretStr:
            return token or await instance_token(self.admin, self.instance)

        await sync(self.registry, desired, own_key)
        self.writer.set(registered=True)
        why = "Routing" if not paused else "Paused" if self.spec.paused else "NotConnected"
        self.writer.condition("Ready", not paused, why)
        today = await sends_today(self.registry, self.instance)
        if today is not None:
            self.writer.set(sendsToday=today)

    async def _phase(self, state: str) -> tuple[Phase, str, str]:
        """(phase, Connected reason, message) for Evolution's ``state``."""
        if state == "open":
            await self._opened()
            return Phase.CONNECTED, "Open", ""
        pairing = self.spec.integration != BUSINESS and not self.resource.ever_connected
        if pairing and state in ("connecting", "close"):
            await self._qr(await self.admin.connect(self.instance, self.spec.pairing_number))
            return Phase.AWAITING_QR_CODE, "AwaitingQRCode", "scan the QR code"
        if state == "connecting":
            return Phase.CONNECTING, "Connecting", "the session is connecting"
        if state == "close":
            code = (await _row(self.admin, self.instance)).get("disconnectionReasonCode")
            reason = "LoggedOut" if code == _LOGGED_OUT else "Closed"
            return Phase.DISCONNECTED, reason, f"Evolution closed the session (reason {code})"
        if state == "refused":
            message = "too many QR codes went unscanned: delete and re-create the resource"
            return Phase.DISCONNECTED, "QRCodeLimitReached", message
        return Phase.ERROR, "Unknown", f"Evolution reports the state {state!r}"

    async def _opened(self) -> None:
        """First look at an open session: its number, and the QR code is of no more use."""
        if self.resource.ever_connected and self.resource.status.get("number"):
            return
        owner = (await _row(self.admin, self.instance)).get("ownerJid")
        if isinstance(owner, str) and owner:
            self.writer.set(number=owner.split("@")[0].split(":")[0])
        self.writer.set(connectedAt=now_iso())
        await self.kube.put_secret_keys(
            self.resource.namespace, self.qr_secret, qr_keys(self.resource)
        )
        issued = (self.resource.status.get("qrCode") or {}).get("issuedAt")
        if issued:
            gone = dict.fromkeys(("secretName", "key", "pairingCodeKey", "digest"))
            self.writer.set(qrCode={"issuedAt": issued, **gone})

    async def _qr(self, answer: dict[str, Any]) -> None:
        """Keep the current QR code (and pairing code) in the Secret when it changed."""
        code, pairing = answer.get("code"), answer.get("pairingCode")
        if not isinstance(code, str) or not code:
            return
        pairing = pairing if isinstance(pairing, str) and pairing else None
        digest = hashlib.sha256(f"{code}|{pairing}".encode()).hexdigest()[:16]
        if (self.resource.status.get("qrCode") or {}).get("digest") == digest:
            return
        keys = qr_keys(self.resource, code, pairing)
        await self.kube.put_secret_keys(self.resource.namespace, self.qr_secret, keys)
        pairing_key = f"{self.resource.name}.pairing-code" if pairing else None
        self.writer.set(
            qrCode={
                "issuedAt": now_iso(),
                "secretName": self.qr_secret,
                "key": f"{self.resource.name}.qr",
                "pairingCodeKey": pairing_key,
                "digest": digest,
            }
        )
