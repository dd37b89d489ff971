"""Erasure of one person's data (LGPD's right to deletion): everything zapq holds about a number.

What holds a number: its messages' records (recipient, text, metadata), their jobs and queue
entries, their idempotency keys, its sticky sender and the index that lists its messages
(``P:recipient:<phone>``, written by enqueue.lua, so that nothing needs a scan of Redis). The
suppression list keeps an opted-out number: erasing it there would let messages reach it again.
Messages enqueued before the index existed are not found; they expire with their retention.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.queue.store import MessageQueue


@dataclass(frozen=True, slots=True)
class Erased:
    #: Message records removed (with their jobs and queue entries).
    messages: int
    #: Idempotency keys removed (those that still named one of these messages).
    idempotency_keys: int
    #: Client callbacks about it not yet delivered (its messages' statuses, its own replies).
    callback_events: int
    #: True when the number had a sticky sender (now forgotten).
    sticky_sender: bool
    #: True when the number is on the suppression list, where it stays.
    suppressed: bool


async def erase_recipient(queue: MessageQueue, phone: str) -> Erased:
    """Remove every message of ``phone`` (E.164 digits, normalised) in one atomic step."""
    result = await queue.scripts.erase([phone])
    return Erased(
        messages=int(result["messages"]),
        idempotency_keys=int(result["idempotency_keys"]),
        callback_events=int(result["callback_events"]),
        sticky_sender=bool(result["sticky_sender"]),
        suppressed=bool(result["suppressed"]),
    )
