"""A worker's view of the sender pool: whom take.lua may route to, and one Evolution client per
sender. Reloaded when the registry's version moves (take.lua returns it with every take, so the
view costs no extra round trip while nothing changes)."""

from __future__ import annotations

import logging
from datetime import datetime

from service.evolution.client import EvolutionClient
from service.senders.registry import Sender, SenderRegistry, days
from service.settings import EvolutionSettings

log = logging.getLogger("zapq.senders")


class SenderPool:
    def __init__(
        self, registry: SenderRegistry, evolution: EvolutionSettings, max_connections: int
    ) -> None:
        self.registry = registry
        self._evolution = evolution
        self._max_connections = max_connections
        self.senders: dict[str, Sender] = {}
        self._clients: dict[str, EvolutionClient] = {}
        self.version = -1

    async def refresh(self, version: int | None = None) -> None:
        """Reload the registry; clients are rebuilt only for senders whose endpoint changed."""
        self.version = version if version is not None else await self.registry.version()
        senders = {sender.name: sender for sender in await self.registry.all()}
        for name in list(self._clients):
            old, new = self.senders.get(name), senders.get(name)
            if new is None or old is None or _endpoint(old) != _endpoint(new):
                await self._clients.pop(name).aclose()
        self.senders = senders
        log.info("sender pool loaded", extra={"senders": sorted(senders), "version": self.version})

    def routing(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """(name, local date) of every sender, for take.lua and promote.lua."""
        return list(days(list(self.senders.values()), now).items())

    def day(self, name: str) -> str:
        """The sender's local date now (the day of its daily limit)."""
        sender = self.senders.get(name)
        return days([sender])[name] if sender else ""

    def client(self, name: str) -> EvolutionClient | None:
        """The sender's Evolution client (None when the sender left the pool)."""
        client = self._clients.get(name)
        if client is None and name in self.senders:
            sender = self.senders[name]
            settings = self._evolution.model_copy(
                update={
                    "base_url": sender.base_url,
                    "api_key": sender.api_key,
                    "instance": sender.instance,
                }
            )
            client = EvolutionClient(settings, max_connections=self._max_connections)
            self._clients[name] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def _endpoint(sender: Sender) -> tuple[str, str, str]:
    return sender.base_url, sender.instance, sender.api_key.get_secret_value()
