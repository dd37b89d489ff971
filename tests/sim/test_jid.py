"""createJid (contract section 2): the JID Evolution answers as key.remoteJid."""

from __future__ import annotations

import pytest

from service.sim.jid import create_jid
from tests.sim.conftest import Evolution


@pytest.mark.parametrize(
    ("number", "jid"),
    [
        # Formatting characters and every other non-digit are dropped.
        ("+55 (11) 99999-9999", "5511999999999@s.whatsapp.net"),
        ("5511987650000", "5511987650000@s.whatsapp.net"),
        # Brazil: the extra 9 goes when DDD >= 31 and the subscriber starts with 7-9 ...
        ("5531987654321", "553187654321@s.whatsapp.net"),
        ("5531977654321", "553177654321@s.whatsapp.net"),
        ("5516997453521", "5516997453521@s.whatsapp.net"),  # DDD 16 < 31: kept
        ("5531961234567", "5531961234567@s.whatsapp.net"),  # subscriber starts with 6: kept
        ("553187654321", "553187654321@s.whatsapp.net"),  # already 12 digits
        # Mexico and Argentina: a 13-digit number loses its 3rd digit.
        ("5215512345678", "525512345678@s.whatsapp.net"),
        ("5491112345678", "541112345678@s.whatsapp.net"),
        ("525512345678", "525512345678@s.whatsapp.net"),
        # 18+ digits is a group; so is a long id with a dash.
        ("120363012345678901", "120363012345678901@g.us"),
        ("5511999999999-1600000000000", "5511999999999-1600000000000@g.us"),
        ("5511-16000", "551116000@s.whatsapp.net"),
        # JIDs pass through; a device suffix is removed first.
        ("120363012345678901@g.us", "120363012345678901@g.us"),
        ("5511999999999:12@s.whatsapp.net", "5511999999999@s.whatsapp.net"),
        ("123456789@lid", "123456789@lid"),
        ("status@broadcast", "status@broadcast"),
        ("", "@s.whatsapp.net"),
    ],
)
def test_create_jid(number: str, jid: str) -> None:
    assert create_jid(number) == jid


def test_remote_jid_of_the_201_is_the_created_jid(evo: Evolution) -> None:
    response = evo.send({"number": "+55 (31) 98765-4321", "text": "oi"})
    assert response.json()["key"]["remoteJid"] == "553187654321@s.whatsapp.net"
