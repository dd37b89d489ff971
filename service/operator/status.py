"""Writing a WhatsAppInstance's status: only what changed, so a timer tick that learns nothing new
costs the API server nothing (kopf skips an empty patch).

Conditions (type: reasons):
    Connected    Open | AwaitingQRCode | Connecting | LoggedOut | QRCodeLimitReached | Unknown
    Ready        Routing | Paused | NotConnected            (zapq routes messages to the number)
    Reconciled   Synced | EvolutionUnreachable | EvolutionServerError | Unauthorized |
                 InvalidSpec | ImmutableField | InstanceNotFound | SecretNotFound |
                 RedisUnavailable | KubernetesError
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf

from service.operator.resource import Phase, Resource


def now_iso() -> str:
    """RFC 3339 in UTC, second precision: what Kubernetes' date-time fields hold."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class StatusWriter:
    """Collects status changes for one handler run into kopf's ``patch``."""

    def __init__(self, resource: Resource, patch: kopf.Patch) -> None:
        self._current = resource.status
        self._generation = resource.generation
        self._patch = patch
        self._conditions: dict[str, dict[str, Any]] = {
            item["type"]: item
            for item in self._current.get("conditions") or []
            if isinstance(item, dict) and "type" in item
        }
        self._conditions_changed = False

    def set(self, **fields: Any) -> None:
        """Status fields (camelCase) that differ from the current status."""
        for key, value in fields.items():
            if self._current.get(key) != value:
                self._patch.status[key] = value

    def phase(self, phase: Phase) -> None:
        self.set(phase=str(phase))

    def condition(self, kind: str, ok: bool, reason: str, message: str = "") -> None:
        """One condition; lastTransitionTime moves only when its status flips."""
        status = "True" if ok else "False"
        old = self._conditions.get(kind)
        if old and (old.get("status"), old.get("reason"), old.get("message")) == (
            status,
            reason,
            message,
        ):
            return
        flipped = not old or old.get("status") != status
        self._conditions[kind] = {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message[:1024],
            "lastTransitionTime": now_iso() if flipped or not old else old["lastTransitionTime"],
            "observedGeneration": self._generation,
        }
        self._conditions_changed = True

    def failed(self, reason: str, message: str, *, permanent: bool) -> None:
        """A call that failed: Reconciled False with the reason, and the last error. A permanent
        failure is phase Error; a passing one leaves the phase (Pending before the first)."""
        self.condition("Reconciled", False, reason, message)
        self.set(lastError=message[:1024], lastErrorAt=now_iso())
        if permanent:
            self.phase(Phase.ERROR)
        elif not self._current.get("phase"):
            self.phase(Phase.PENDING)

    def synced(self) -> None:
        self.condition("Reconciled", True, "Synced")
        if self._generation is not None:
            self.set(observedGeneration=self._generation)

    def flush(self) -> None:
        """Write the conditions into the patch (all of them: a merge patch replaces a list)."""
        if self._conditions_changed:
            self._patch.status["conditions"] = sorted(
                self._conditions.values(), key=lambda item: str(item["type"])
            )
