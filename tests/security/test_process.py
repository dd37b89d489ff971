"""A real `zapq api` process: placeholder and weak keys refused at start-up, request heads bounded
(431), and keyless bodies never read (the process's memory stays flat)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from loadtest.procs import rss_bytes, zapq_env
from tests.security.conftest import api_process

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("test-key", "ZAPQ_API_KEYS: item 1: a placeholder from the examples"),
        ("a-long-enough-key-0123456789abcdef,dev-0123456789abcdef", "item 2: weaker than 128 bits"),
    ],
)
def test_weak_keys_are_refused_at_start_up(keys: str, problem: str) -> None:
    env = zapq_env("redis://127.0.0.1:9", "http://127.0.0.1:9", ZAPQ_API_KEYS=keys)
    done = subprocess.run(
        [sys.executable, "-m", "service", "api", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert problem in done.stderr
    for key in keys.split(","):
        assert key not in done.stderr + done.stdout


def _send_head(port: int, header_bytes: int) -> bytes:
    """Send a GET whose headers total ``header_bytes``; what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        chunk = b"X-Pad: " + b"a" * 8000 + b"\r\n"
        try:
            for _ in range(header_bytes // len(chunk)):
                sock.sendall(chunk)
            sock.sendall(b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-way: the server closed the connection
        return sock.recv(65536)


def test_request_heads_are_bounded(redis_url: str, tmp_path: Path) -> None:
    with api_process(redis_url, tmp_path / "api.log") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        assert _send_head(port, 8_000).startswith(b"HTTP/1.1 200")
        answer = _send_head(port, 4 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 431")
        body = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"] == "headers_too_large"
        assert httpx.get(url + "/healthz").status_code == 200  # and it still serves


async def _keyless_batches(url: str, count: int, size: int) -> list[int]:
    item = {"to": "+5511987654321", "text": "x" * 3000}
    body = orjson.dumps({"messages": [item] * (size // 3050)})
    async with httpx.AsyncClient(timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(url + "/v1/messages/batch", content=body) for _ in range(count))
        )
    return [response.status_code for response in responses]


async def test_keyless_bodies_cost_no_memory(redis_url: str, redis: object, tmp_path: Path) -> None:
    with api_process(redis_url, tmp_path / "api.log") as (url, pid):
        before = rss_bytes(pid)
        statuses = await _keyless_batches(url, 3, 4 * 1024 * 1024 - 4096)
        after = rss_bytes(pid)
    assert statuses == [401, 401, 401]
    # Before the guard the same three requests took the process from 58 to 284 MB.
    assert after - before < 20 * 1024 * 1024, (before, after)
