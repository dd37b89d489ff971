"""A counting TCP proxy in front of Redis, for the benchmarks: how many round trips and commands the
processes behind it make.

A round trip is one burst of bytes from a client (a command, a pipeline or a MULTI block sent in
one write) answered by Redis: the proxy counts the reads it gets from each client, which on
loopback is one per write of a request. Commands are counted by parsing the RESP arrays.
Commands that Redis runs inside a script are not requests: they are not counted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from service.devstack import free_port

# A RESP request is an array: "*<count>\r\n" then count bulk strings "$<len>\r\n<bytes>\r\n".
_ARRAY = re.compile(rb"\*(\d+)\r\n")
_BULK = re.compile(rb"\$(\d+)\r\n")


@dataclass
class Counts:
    round_trips: int = 0
    commands: int = 0
    by_command: dict[str, int] = field(default_factory=dict)


def _commands(buffer: bytearray, counts: Counts) -> None:
    """Consume every whole RESP request at the start of ``buffer``, counting it."""
    while True:
        head = _ARRAY.match(buffer)
        if head is None:
            return
        position, parts = head.end(), []
        for _ in range(int(head.group(1))):
            bulk = _BULK.match(buffer, position)
            if bulk is None:
                return
            start = bulk.end()
            end = start + int(bulk.group(1))
            if len(buffer) < end + 2:
                return
            parts.append(bytes(buffer[start:end]))
            position = end + 2
        del buffer[:position]
        name = parts[0].decode(errors="replace").lower() if parts else "?"
        if name == "evalsha" and len(parts) > 1:
            name = f"evalsha:{parts[1][:8].decode(errors='replace')}"
        counts.commands += 1
        counts.by_command[name] = counts.by_command.get(name, 0) + 1


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counts: Counts | None
) -> None:
    buffer = bytearray()
    try:
        while data := await reader.read(65536):
            if counts is not None:
                counts.round_trips += 1
                buffer += data
                _commands(buffer, counts)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def counting_proxy(redis_port: int) -> AsyncIterator[tuple[int, Counts]]:
    """Listen on a free loopback port, forward to Redis on ``redis_port``; yields (port, counts)."""
    counts = Counts()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", redis_port)
        for task in (
            asyncio.create_task(_pipe(client_r, server_w, counts)),
            asyncio.create_task(_pipe(server_r, client_w, None)),
        ):
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield port, counts
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
