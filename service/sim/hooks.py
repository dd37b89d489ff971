"""An instance's webhook: the Prisma Webhook row Evolution stores and what delivery derives
from it (WebhookController.set and .emit in Evolution 2.3.6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from service.sim.model import Hook, Instance, iso_now

#: EventController.events, in Evolution's order (the enum of the schema and "all events").
EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)
_POSTABLE = re.compile(r"^https?://")
#: axios' default headers on a JSON post (axios 1.12.2 in Evolution 2.3.6's lockfile).
AXIOS_HEADERS = {
    "Accept": "application/json, text/plain, */*",
    "Content-Type": "application/json",
    "User-Agent": "axios/1.12.2",
}


def store(instance: Instance, webhook: dict[str, Any], new_id: Callable[[], str]) -> dict[str, Any]:
    """WebhookController.set: upsert the instance's Webhook row (``new_id`` names a new one)
    and return it."""
    enabled = webhook.get("enabled") is True
    events = list(webhook.get("events") or ()) if enabled else []
    if enabled and not events:
        events = list(EVENTS)
    previous = instance.hook.row if instance.hook is not None else None
    row = {
        "id": previous["id"] if previous else new_id(),
        "url": webhook.get("url"),
        "headers": webhook.get("headers", previous["headers"] if previous else None),
        "enabled": enabled,
        "events": events,
        # Prisma leaves a column alone when given undefined; a new row gets the default false.
        "webhookByEvents": _kept(webhook, "byEvents", previous, "webhookByEvents"),
        "webhookBase64": _kept(webhook, "base64", previous, "webhookBase64"),
        "createdAt": previous["createdAt"] if previous else iso_now(),
        "updatedAt": iso_now(),
        "instanceId": instance.id,
    }
    instance.hook = hook_from_row(row)
    return row


def _kept(webhook: dict[str, Any], key: str, previous: dict[str, Any] | None, column: str) -> Any:
    if key in webhook:
        return webhook[key]
    return previous[column] if previous else False


def hook_from_row(row: dict[str, Any]) -> Hook:
    """What delivery needs, computed once per set: headers (axios defaults, then the row's,
    ``jwt_key`` taken out) and the filter."""
    headers = {**AXIOS_HEADERS}
    jwt_key = None
    for name, value in (row["headers"] or {}).items():
        if name == "jwt_key":
            jwt_key = str(value)
        else:
            headers[name] = value if isinstance(value, str) else str(value)
    url = row["url"] if isinstance(row["url"], str) else ""
    return Hook(
        row=row,
        events=frozenset(row["events"]) if row["enabled"] else frozenset(),
        postable=bool(_POSTABLE.match(url)),
        url=url,
        by_events=row["webhookByEvents"] is True,
        headers=headers,
        jwt_key=jwt_key,
    )
