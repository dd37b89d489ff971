"""Evolution's instance management (contract sections 5 and 6): create, connect, webhook, state,
logout, delete. Called by the operator (service/operator) and `zapq senders qr`, never on the
send path, so it rides the plain httpx transport of an EvolutionClient built for it.

Most routes need Evolution's global key (``AUTHENTICATION_API_KEY``): /instance/create accepts
nothing else; the others also take the instance's own token. Every failure is an EvolutionError
(errors.py); a 200 whose body says ``{"error": true}`` (connect and restart answer so) is an
EvolutionUnexpectedResponse naming Evolution's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import httpx
from pydantic import SecretStr

from service.evolution.client import EvolutionClient, json_list
from service.evolution.errors import EvolutionUnexpectedResponse
from service.settings import EvolutionSettings

#: The webhook events zapq's inbound route handles; listed explicitly, because an empty list means
#: every event and a missing one fails Evolution's create (contract section 5).
WEBHOOK_EVENTS: Final = (
    "MESSAGES_UPDATE",
    "MESSAGES_UPSERT",
    "CONNECTION_UPDATE",
    "QRCODE_UPDATED",
    "SEND_MESSAGE",
)
BAILEYS: Final = "WHATSAPP-BAILEYS"
BUSINESS: Final = "WHATSAPP-BUSINESS"


def webhook_config(url: str, token: SecretStr) -> dict[str, Any]:
    """The nested ``webhook`` object of /webhook/set and /instance/create: zapq's endpoint, its
    bearer token as a header (Evolution signs nothing), one URL for every event."""
    return {
        "enabled": True,
        "url": url,
        "headers": {"Authorization": f"Bearer {token.get_secret_value()}"},
        "byEvents": False,
        "base64": False,
        "events": list(WEBHOOK_EVENTS),
    }


@dataclass(frozen=True, slots=True)
class NewInstance:
    """What /instance/create takes. Baileys numbers pair by QR code (or a pairing code for
    ``number``); a Cloud API (WHATSAPP-BUSINESS) number needs Meta's access token as ``token``
    (Evolution also uses it as the instance's key), its phone number id as ``number`` and
    ``business_id``."""

    name: str
    integration: str = BAILEYS
    token: SecretStr | None = None
    number: str | None = None
    business_id: str | None = None

    def body(self) -> dict[str, Any]:
        # qrcode false: Evolution would hold the answer 5 s for a QR code; connect() asks for it
        # once the webhook is set, so the first connection.update reaches zapq.
        body: dict[str, Any] = {
            "instanceName": self.name,
            "integration": self.integration,
            "qrcode": False,
        }
        optional = {"number": self.number, "businessId": self.business_id}
        body.update({key: value for key, value in optional.items() if value})
        if self.token is not None:
            body["token"] = self.token.get_secret_value()
        return body


class EvolutionAdmin:
    """Instance management on one Evolution server with one key."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        settings: EvolutionSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = settings or EvolutionSettings()
        update = {"base_url": base_url, "api_key": api_key, "transport": "httpx"}
        self._client = EvolutionClient(
            base.model_copy(update=update), max_connections=2, transport=transport
        )

    async def __aenter__(self) -> EvolutionAdmin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def create_instance(self, new: NewInstance) -> dict[str, Any]:
        """The 201 body; its ``hash`` is the new instance's own key. A name in use is a 403
        (EvolutionUnexpectedResponse with status_code 403), whatever the key."""
        return _object(await self._client.call(201, "POST", "/instance/create", new.body()), 201)

    async def connect(self, name: str, number: str | None = None) -> dict[str, Any]:
        """Start (or look at) the session: a closed one starts connecting and the answer is its QR
        object ``{pairingCode, code, base64, count}`` (fields absent until issued); an open one
        answers ``{"instance": {"state": "open"}}``."""
        params = {"number": number} if number else None
        data = await self._client.call(200, "GET", f"/instance/connect/{name}", params=params)
        return _object(data, 200)

    async def connection_state(self, name: str) -> str:
        """ "open", "connecting", "close" (or "refused" after the QR code limit); "unknown" when
        Evolution has the instance in its database but not loaded."""
        data = await self._client.call(200, "GET", f"/instance/connectionState/{name}")
        inner = data.get("instance") if isinstance(data, dict) else None
        state = inner.get("state") if isinstance(inner, dict) else None
        return state if isinstance(state, str) else "unknown"

    async def set_webhook(self, name: str, webhook: dict[str, Any]) -> dict[str, Any]:
        """POST /webhook/set/{name} with the nested body; the stored webhook row."""
        path = f"/webhook/set/{name}"
        return _object(await self._client.call(201, "POST", path, {"webhook": webhook}), 201)

    async def find_webhook(self, name: str) -> dict[str, Any]:
        return _object(await self._client.call(200, "GET", f"/webhook/find/{name}"), 200)

    async def logout(self, name: str) -> None:
        """End the WhatsApp session (a closed one is a 400 EvolutionRejected)."""
        await self._client.call(200, "DELETE", f"/instance/logout/{name}")

    async def delete_instance(self, name: str) -> None:
        """Remove the instance; Evolution logs an open or connecting session out first."""
        await self._client.call(200, "DELETE", f"/instance/delete/{name}")

    async def fetch_instances(self, name: str | None = None) -> list[dict[str, Any]]:
        """Instance rows (``name, connectionStatus, ownerJid, token, disconnectionReasonCode``,
        ...); an unknown ``name`` is a 404 EvolutionInstanceNotFound."""
        params = {"instanceName": name} if name else None
        data = await self._client.call(200, "GET", "/instance/fetchInstances", params=params)
        return json_list(data)


def _object(data: Any, status: int) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise EvolutionUnexpectedResponse("expected a JSON object", status_code=status)
    if data.get("error") is True:  # connect / restart: HTTP 200 {"error": true, "message": ...}
        detail = f"HTTP {status}: {data.get('message')}"[:300]
        raise EvolutionUnexpectedResponse(detail, status_code=status)
    return data
