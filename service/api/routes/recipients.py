"""DELETE /v1/recipients/{phone}: erase one person's data (LGPD), admin only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service.api.deps import AdminKey, QueueDep, SettingsDep
from service.api.schemas import PHONE_PATTERN, ErasureOut
from service.errors import ValidationFailed
from service.phones import normalize_phone
from service.queue.privacy import erase_recipient

router = APIRouter(prefix="/v1/recipients", tags=["recipients"])
Phone = Annotated[
    str,
    Path(
        pattern=PHONE_PATTERN,
        description="A phone number, normalised as in createMessage.",
        json_schema_extra={"format": "phone"},
    ),
]


@router.delete("/{phone}", response_model=ErasureOut)
async def erase_recipient_data(
    phone: Phone, queue: QueueDep, settings: SettingsDep, _: AdminKey
) -> ErasureOut:
    """Remove every message of this number (records, texts, jobs, idempotency keys, provider ids)
    with the client callbacks about it not yet delivered, and its sticky sender. A number that
    opted out stays on the suppression list. Answers what was removed; erasing a number zapq
    holds nothing of removes nothing (200 with zeros)."""
    try:
        number = normalize_phone(phone, settings.messages.default_region)
    except ValueError as exc:
        raise ValidationFailed([{"field": "phone", "message": str(exc)}]) from exc
    erased = await erase_recipient(queue, number)
    return ErasureOut(
        phone=number,
        messages=erased.messages,
        idempotency_keys=erased.idempotency_keys,
        callback_events=erased.callback_events,
        sticky_sender=erased.sticky_sender,
        suppressed=erased.suppressed,
    )
