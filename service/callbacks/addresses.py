"""The SSRF guard of client callbacks: http(s) only, and only public addresses unless
``callbacks.allow_private_networks``.

The address checked is the one connected to: GuardedResolver resolves the name, drops every
address that is not public and hands aiohttp only what is left, so a name that resolves to a
public address when checked and to 10.0.0.1 a moment later (DNS rebinding) cannot slip through.
Names that are IP literals skip resolution, so ``refusal()`` checks them before the request.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class AddressRefused(OSError):
    """The callback URL's host is (or resolves only to) a private or otherwise non-public
    address."""


def is_public(address: str) -> bool:
    """Global unicast: not loopback, private, link-local, shared (CGNAT), reserved, multicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def refusal(url: str, allow_private: bool) -> str | None:
    """Why ``url`` may not be called, before any resolution (None: it may, as far as its text
    says; its resolved address is checked when called)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the callback URL must be http:// or https:// with a host"
    literal = _literal(parts.hostname)
    if literal is not None and not allow_private and not is_public(literal):
        return "the callback URL's address is not public (callbacks.allow_private_networks)"
    return None


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only public addresses (all, with ``allow_private``)."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [entry for entry in found if self._allow_private or is_public(entry["host"])]
        if not allowed:
            raise AddressRefused(f"{host} resolves to no public address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()
