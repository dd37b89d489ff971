"""Phone numbers as zapq stores and sends them: E.164 digits without "+" (what Evolution takes).

Below both the API and the scheduler: every number that enters zapq goes through here.
"""

from __future__ import annotations

import phonenumbers


def normalize_phone(raw: str, region: str) -> str:
    """E.164 digits without "+", as Evolution takes them; raises ValueError naming the problem."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc.args[0] if exc.args else exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number (default region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
