"""normalize_phone's shortcut answers exactly as phonenumbers' full parse, or not at all."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from service.phones import _parsed, _shortcut, is_valid, normalize_phone


def _samples() -> list[tuple[str, str]]:
    """(raw, default region): every region's example numbers in each format, plus noise."""
    rng = random.Random(7)
    formats = list(phonenumbers.PhoneNumberFormat.__dict__.values())
    out: list[tuple[str, str]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            for fmt in (f for f in formats if isinstance(f, int)):
                out.append((phonenumbers.format_number(example, fmt), rng.choice(["BR", region])))
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(7, 15)))
        out.append(
            (rng.choice(["+", "", "+55 ", "(11) "]) + digits, rng.choice(["BR", "US", "IT"]))
        )
    return out


SAMPLES = _samples()


def _full(raw: str, region: str) -> str | None:
    try:
        return _parsed(raw, region)
    except ValueError:
        return None


def test_the_shortcut_agrees_with_the_full_parse() -> None:
    taken = 0
    for raw, region in SAMPLES:
        fast = _shortcut(raw, region)
        if fast is not None:
            taken += 1
            assert fast == _full(raw, region), (raw, region)
    assert taken > len(SAMPLES) // 10, "the shortcut serves the common plain-digit forms"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+55 11 98765-4321", "5511987654321"),
        ("(11) 98765-4321", "5511987654321"),
        ("11987654321", "5511987654321"),
        ("5511987654321", "5511987654321"),  # with the country code but no +: the full parse
        ("+39 02 3661 8300", "390236618300"),  # Italy's leading zero: the full parse
        ("+55 11 98765-4321 ext. 12", "5511987654321"),
    ],
)
def test_forms(raw: str, expected: str) -> None:
    assert normalize_phone(raw, "BR") == expected


@pytest.mark.parametrize("raw", ["123", "+5511", "not a number", "+999 123456789"])
def test_invalid_numbers_name_the_problem(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        normalize_phone(raw, "BR")


def _nationals(country: int, rng: random.Random) -> set[str]:
    """National numbers for a country code: its regions' example numbers of every type, each
    cut and continued at random, and random digits of every length up to 22."""
    examples = set()
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country]:
        for kind in range(12):  # every PhoneNumberType
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and example.country_code == country:
                examples.add(str(example.national_number))
    out = set(examples)
    for example in examples:
        for _ in range(40):
            tail = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 5)))
            out.add(example[: rng.randint(1, len(example))] + tail)
    for _ in range(200):
        tail = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 21)))
        out.add(str(rng.randint(1, 9)) + tail)
    return out


def test_is_valid_is_phonenumbers_is_valid_number() -> None:
    rng = random.Random(5)
    checked = valid = 0
    for country in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for national in _nationals(country, rng):
            number = phonenumbers.PhoneNumber(country_code=country, national_number=int(national))
            expected = phonenumbers.is_valid_number(number)
            assert is_valid(country, national) == expected, (country, national)
            checked += 1
            valid += expected
    assert checked > 50_000 and valid > 5_000
