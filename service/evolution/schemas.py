"""What the client returns for a successful sendText (contract section 3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SentMessage:
    #: ``key.id``: the provider's message id, matched by later ``messages.update`` webhooks.
    provider_id: str
    #: ``key.remoteJid``: may differ from the number we sent (Brazilian 9th digit, MX/AR rules).
    remote_jid: str
    #: ``status`` as a string enum; a fresh send is "PENDING".
    status: str
    #: ``messageTimestamp`` in unix seconds (v2 sends an int, v1 a numeric string; both accepted).
    timestamp: int
