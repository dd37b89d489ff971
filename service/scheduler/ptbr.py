"""pt-BR formatting without the machine's locale (containers rarely have pt_BR.UTF-8 installed).

``format_money(Decimal("1234.5"))`` -> ``"R$ 1.234,50"``; ``format_date(date(2025, 3, 9))`` ->
``"09/03/2025"``; ``first_name("maria DA silva")`` -> ``"Maria"``.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

# Symbols as Brazilian documents write them; any other ISO 4217 code is shown as the code itself.
_SYMBOLS = {"BRL": "R$", "USD": "US$", "EUR": "€", "GBP": "£"}
_CENT = Decimal("0.01")
# Lowercase particles inside names stay lowercase after capitalisation ("da", "de", ...).
_PARTICLES = frozenset({"da", "das", "de", "di", "do", "dos", "e"})


def format_money(amount: Decimal, currency: str = "BRL") -> str:
    """Thousands with ".", cents with ",", banker's rounding to the cent; "-R$ 5,00" below 0."""
    cents = amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    sign = "-" if cents < 0 else ""
    whole, _, fraction = f"{abs(cents):.2f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, tail = whole[:-3], whole[-3:]
        groups.insert(0, tail)
    groups.insert(0, whole)
    symbol = _SYMBOLS.get(currency.upper(), currency.upper())
    return f"{sign}{symbol} {'.'.join(groups)},{fraction}"


def format_date(day: date) -> str:
    """dd/mm/aaaa."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _capitalise(word: str) -> str:
    # Hyphenated first names ("ana-maria") capitalise each part.
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def first_name(full_name: str) -> str:
    """The first word of a name, capitalised ("JOÃO" and "joão" both give "João")."""
    words = full_name.split()
    return _capitalise(words[0]) if words else ""


def display_name(full_name: str) -> str:
    """Every word capitalised except particles: "MARIA DA SILVA" -> "Maria da Silva"."""
    words = full_name.split()
    return " ".join(
        word.lower() if index and word.lower() in _PARTICLES else _capitalise(word)
        for index, word in enumerate(words)
    )
