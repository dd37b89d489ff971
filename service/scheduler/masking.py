"""What the scheduler may print about a charge: ids, links, names and texts masked.

Logs and `--dry-run` output end up in pod logs, readable by whoever runs the cluster; a message is
personal data (a name, a debt, a payment link that pays it). The logs mask phones
(service.logging.mask_phone) and never carry a text; these do the rest. A dry run still shows how
each text reads: the template rendered with the charge's personal fields masked, and the
formatting fields (amount, dates, days) as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

# Template fields whose value names, identifies or pays for a charge, and what hides each.
_NAMES = ("name", "first_name")
_LINKS = ("payment_link",)
# Shown as they are: what a person checks in a dry run (pt-BR formatting), and nothing personal.
KEPT_FIELDS = frozenset({"amount", "currency", "due_date", "days_until_due", "days_overdue"})


def mask_id(charge_id: str) -> str:
    """The last third of an id, at most 4 characters: ``ch_0001234`` -> ``*******234``. Enough
    to tell charges apart in a log, not to look one up from outside (ids end up in payment
    links)."""
    shown = min(len(charge_id) // 3, 4)
    return "*" * (len(charge_id) - shown) + charge_id[len(charge_id) - shown :]


def mask_link(link: str) -> str:
    """``https://pay.example/c/8f3a?t=x`` -> ``https://pay.example/...``: where it goes, not what
    pays. Anything that is not a URL (a PIX code) is masked whole."""
    parts = urlsplit(link)
    if parts.scheme in {"http", "https"} and parts.hostname:
        return f"{parts.scheme}://{parts.hostname}/..."
    return mask_whole(link)


def mask_name(name: str) -> str:
    """Each word's first letter: ``Maria da Silva`` -> ``M**** d* S****``."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in name.split(" "))


def mask_whole(value: str) -> str:
    return f"[{len(value)} characters]" if value else ""


def masked_context(context: Mapping[str, str]) -> dict[str, str]:
    """A charge's template fields with every personal one masked."""
    masked: dict[str, str] = {}
    for field, value in context.items():
        if field in KEPT_FIELDS:
            masked[field] = value
        elif field in _NAMES:
            masked[field] = mask_name(value)
        elif field == "charge_id":
            masked[field] = mask_id(value)
        elif field in _LINKS or field == "payment":
            masked[field] = mask_link(value)
        else:  # pix_code, and every extra (a plan name, a document number: nobody knows)
            masked[field] = mask_whole(value)
    return masked
