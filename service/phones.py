"""Phone numbers as zapq stores and sends them: E.164 digits without "+" (what Evolution takes).

Below both the API and the scheduler: every number that enters zapq goes through here.

phonenumbers' parse() is most of the cost of ingesting a message (about 25 us of 35, profiled):
a number written as digits (with +country, or national without a leading 0), once spaces,
dashes, dots and brackets are gone, needs none of its work, so it goes straight to the validity
check; everything else (letters, extensions, a leading 0 that may be a trunk prefix) takes the
full parse. The shortcut only ever answers for a number the full parse would read the same way
(tests/test_phones.py compares both).

The validity check itself is phonenumbers' is_valid_number, with the patterns of a country code
that has one region compiled once: phonenumbers tries its number types one by one (premium rate
first, mobile last), each a regex fetched from re's cache and run twice; here all the types that
allow a number's length are one alternation, run once. It answers what is_valid_number answers
for every country code and number length (tests/test_phones.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber

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
    return f"{country}{national}" if is_valid(country, national) else None


def is_valid(country: int, national: str) -> bool:
    """phonenumbers.is_valid_number of +<country> <national> (digits, no leading 0)."""
    check = _checker(country)
    if check is not None:
        return check(national)
    return bool(phonenumbers.is_valid_number(_number(country, national)))


# (possible lengths, or empty for any; the national number pattern, compiled)
_Desc = tuple[frozenset[int], re.Pattern[str]]
# The checkers know lengths up to this many digits (a national number has at most 17); longer
# numbers go to phonenumbers itself.
_LONGEST = 20


@functools.cache
def _checker(country: int) -> Callable[[str], bool] | None:
    """is_valid_number for a country code with one region (None for the others, whose region
    depends on the number: phonenumbers decides those itself)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country)
    if regions is None:
        return lambda national: False
    if len(regions) != 1 or regions[0] == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return None
    metadata = PhoneMetadata.metadata_for_region(regions[0].upper())
    if metadata is None or phonenumbers.country_code_for_valid_region(regions[0]) != country:
        return lambda national: False
    general = _desc(metadata.general_desc)
    if general is None:
        return lambda national: False
    types = _types(metadata)
    # Per length, one pattern: the alternation of the types that allow it (fullmatch of A|B is
    # fullmatch of A or of B), so that a number costs two regex runs whatever its type.
    by_length = {
        size: _either([pattern for lengths, pattern in types if not lengths or size in lengths])
        for size in range(1, _LONGEST + 1)
    }
    lengths, pattern = general

    def check(national: str) -> bool:
        size = len(national)
        if size > _LONGEST:
            return bool(phonenumbers.is_valid_number(_number(country, national)))
        either = by_length[size]
        return (
            either is not None
            and (not lengths or size in lengths)
            and pattern.fullmatch(national) is not None
            and either.fullmatch(national) is not None
        )

    return check


def _types(metadata: PhoneMetadata) -> list[_Desc]:
    """The number types of a region: any one makes a number valid (phonenumbers'
    _number_type_helper); mobile counts only when its pattern differs from the fixed line's, as
    phonenumbers has it."""
    kinds = ["fixed_line", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number"]
    kinds += ["pager", "uan", "voicemail"]
    if not metadata.same_mobile_and_fixed_line_pattern:
        kinds.append("mobile")
    return [desc for kind in kinds if (desc := _desc(getattr(metadata, kind))) is not None]


def _desc(desc: phonenumbers.PhoneNumberDesc | None) -> _Desc | None:
    """A PhoneNumberDesc as phonenumbers matches it; None for one that matches nothing."""
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _either(patterns: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{pattern.pattern})" for pattern in patterns))


def _number(country: int, national: str) -> PhoneNumber:
    return PhoneNumber(country_code=country, national_number=int(national))


def _parsed(raw: str, region: str) -> str:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc.args[0] if exc.args else exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number (default region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
