"""Standard Webhooks signatures (https://www.standardwebhooks.com), with its reference package.

Each request carries ``webhook-id`` (the event's id: the same on every attempt, the receiver's
idempotency key), ``webhook-timestamp`` (unix seconds of this attempt: receivers refuse old ones)
and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per
secret, space-separated. During a rotation both secrets sign, so a receiver holding either the
old or the new one verifies every request.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook

from service.settings import CallbackSettings


class Signer:
    def __init__(self, settings: CallbackSettings) -> None:
        secrets = (settings.signing_secret, settings.previous_signing_secret)
        self._webhooks = [
            Webhook(secret.get_secret_value()) for secret in secrets if secret.get_secret_value()
        ]

    def headers(self, event_id: str, body: str, unix_seconds: int) -> dict[str, str]:
        """The headers of one attempt: ``body`` is the exact text sent."""
        headers = {
            "content-type": "application/json",
            "user-agent": "zapq-callbacks",
            "webhook-id": event_id,
            "webhook-timestamp": str(unix_seconds),
        }
        if self._webhooks:
            at = datetime.fromtimestamp(unix_seconds, UTC)
            headers["webhook-signature"] = " ".join(
                webhook.sign(event_id, at, body) for webhook in self._webhooks
            )
        return headers
