"""Phone numbers as zapq stores and sends them: E.164 digits without "+" (what Evolution takes).

Below both the API and the scheduler: every number that enters zapq goes through here.

phonenumbers' parse() is most of the cost of ingesting a message (about 25 us of 35, profiled):
a number written as digits (with +country, or national without a leading 0), once spaces,
dashes, dots and brackets are gone, needs none of its work, so it goes straight to the validity
check; everything else (letters, extensions, a leading 0 that may be a trunk prefix) takes the
full parse. The shortcut only ever answers for a number the full parse would read the same way
(tests/test_phones.py compares both).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumber

_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"\+?[1-9]\d{6,16}")


def normalize_phone(raw: str, region: str) -> str:
    """E.164 digits without "+", as Evolution takes them; raises ValueError naming the problem."""
    fast = _shortcut(raw, region)
    return fast if fast is not None else _parsed(raw, region)


def _shortcut(raw: str, region: str) -> str | None:
    """The number, when it is plain digits and valid; None means: take the full parse."""
    compact = _SEPARATORS.sub("", raw)
    if not _DIGITS.fullmatch(compact):
        return None
    if compact[0] == "+":
        for length in (1, 2, 3):
            if int(compact[1 : 1 + length]) in COUNTRY_CODE_TO_REGION_CODE:
                country, national = int(compact[1 : 1 + length]), compact[1 + length :]
                break
        else:
            return None
    else:
        country, national = phonenumbers.country_code_for_region(region), compact
    if not country or not national or national[0] == "0":
        return None
    if not phonenumbers.is_valid_number(
        PhoneNumber(country_code=country, national_number=int(national))
    ):
        return None
    return f"{country}{national}"


def _parsed(raw: str, region: str) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc.args[0] if exc.args else exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number (default region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
