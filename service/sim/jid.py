"""How Evolution turns a ``number`` into a WhatsApp JID: a port of ``src/utils/createJid.ts``.

The real server answers with this JID as ``key.remoteJid``, so a client must not assume it equals
``number + "@s.whatsapp.net"`` (Brazil drops the 9th digit for some area codes, Mexico and
Argentina drop their mobile prefix digit).
"""

from __future__ import annotations

import re

# JavaScript's \d is ASCII-only, its \s is Unicode: re.ASCII only where digits are matched.
_DEVICE = re.compile(r":\d+", re.ASCII)
_STRIPPED = re.compile(r"[\s+()]")
_NON_DIGITS = re.compile(r"\D", re.ASCII)
_NON_DIGITS_OR_DASH = re.compile(r"[^\d-]", re.ASCII)
_BR = re.compile(r"^(\d{2})(\d{2})\d(\d{8})$", re.ASCII)
_KEPT_AS_IS = ("@g.us", "@s.whatsapp.net", "@lid", "@broadcast")

USER_SUFFIX = "@s.whatsapp.net"
GROUP_SUFFIX = "@g.us"


def create_jid(number: str) -> str:
    """The JID Evolution sends to, for any ``number`` string the schema lets through."""
    number = _DEVICE.sub("", number, count=1)
    if any(suffix in number for suffix in _KEPT_AS_IS):
        return number
    number = _STRIPPED.sub("", number).split(":")[0].split("@")[0]
    # Old-style group ids ("5511999999999-1600000000") keep their dash.
    if "-" in number and len(number) >= 24:
        return _NON_DIGITS_OR_DASH.sub("", number) + GROUP_SUFFIX
    number = _NON_DIGITS.sub("", number)
    # 18+ digits is a group id (user numbers are at most 15 digits, E.164).
    if len(number) >= 18:
        return number + GROUP_SUFFIX
    return _br_number(_mx_or_ar_number(number)) + USER_SUFFIX


def _mx_or_ar_number(digits: str) -> str:
    """Mexico (52) and Argentina (54): a 13-digit number loses its 3rd digit (the mobile 1 / 9)."""
    if digits[:2] in ("52", "54") and len(digits) == 13:
        return digits[:2] + digits[3:]
    return digits


def _br_number(digits: str) -> str:
    """Brazil (55): the extra 9 goes for area codes >= 31 when the subscriber starts with 7-9."""
    match = _BR.match(digits)
    if match is None or match[1] != "55":
        return digits
    if int(match[3][0]) < 7 or int(match[2]) < 31:
        return match[0]
    return match[1] + match[2] + match[3]


def is_group(jid: str) -> bool:
    return jid.endswith(GROUP_SUFFIX)


def digits_of(value: str) -> str:
    return _NON_DIGITS.sub("", value)
