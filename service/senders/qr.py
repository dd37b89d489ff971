"""`zapq senders qr NAME`: the sender's current WhatsApp QR code, drawn in the terminal, for people
who run zapq without the operator (with it, the code is in the operator's Secret too).

It asks Evolution to connect the sender's instance (GET /instance/connect, which starts a closed
session and answers the current QR code of one that waits for a scan) with the sender's own key
from the registry, and draws the code with segno. Scan it in WhatsApp > Linked devices; run it
again for a fresh code (they rotate every few tens of seconds).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import segno
from redis.asyncio import Redis

from service.evolution.admin import EvolutionAdmin
from service.evolution.errors import EvolutionError
from service.queue.store import MessageQueue
from service.redis import create_redis
from service.senders.registry import SenderRegistry
from service.settings import Settings

EXIT_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the sender's name (zapq senders list)")
    parser.add_argument(
        "--pairing-number",
        help="also ask for a pairing code for this phone number (digits with the country code), "
        "typed in WhatsApp instead of scanning",
    )


async def show(settings: Settings, name: str, pairing_number: str | None, out: TextIO) -> int:
    """Draw ``name``'s QR code on ``out``; the exit status (0, or 1 with the reason on stderr)."""
    redis: Redis = create_redis(settings, "cli", max_connections=2)
    try:
        sender = await SenderRegistry(MessageQueue(redis, settings)).get(name)
    finally:
        await redis.aclose()
    if sender is None:
        return _fail(f"no sender named {name!r} (zapq senders list)")
    try:
        async with EvolutionAdmin(
            sender.base_url, sender.api_key, settings=settings.evolution
        ) as admin:
            answer = await admin.connect(sender.instance, pairing_number)
    except EvolutionError as exc:
        return _fail(f"Evolution: {exc.message}")
    code = answer.get("code")
    if isinstance(answer.get("instance"), dict):
        out.write(f"{name} is already connected: nothing to scan\n")
        return 0
    if not isinstance(code, str) or not code:
        return _fail("Evolution has no QR code yet: run the command again in a few seconds")
    draw(code, out)
    out.write(f"Scan with WhatsApp > Linked devices > Link a device ({name}).\n")
    pairing = answer.get("pairingCode")
    if isinstance(pairing, str) and pairing:
        out.write(f"Or type this pairing code on the phone: {pairing}\n")
    return 0


def draw(code: str, out: TextIO) -> None:
    """The code as a QR symbol in terminal half blocks (two modules per character row)."""
    segno.make(code, error="l", micro=False).terminal(out=out, compact=True)


def _fail(reason: str) -> int:
    sys.stderr.write(f"zapq senders qr: {reason}\n")
    return EXIT_FAILED
