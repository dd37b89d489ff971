"""A real PostgreSQL for the SQL source tests: Debian's binaries (package `postgresql`), a fresh
cluster in a temporary folder, on a free loopback port, stopped by its PID.

PostgreSQL refuses to run as root, so under root (CI, containers) the cluster belongs to the
`postgres` user the Debian package creates (or `nobody`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from service.devstack import free_port, wait_for_port

# initdb takes ~1 s; a loaded CI machine gets more.
_START_TIMEOUT_SECONDS = 30


def find_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


@contextlib.contextmanager
def postgres_server(bin_dir: Path) -> Iterator[str]:
    """Yields a SQLAlchemy URL for the superuser `postgres` (trust auth, loopback only)."""
    user = _run_as()
    data = Path(tempfile.mkdtemp(prefix="zapq-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(data, entry.pw_uid, entry.pw_gid)
    port = free_port()
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [bin_dir / "initdb", "-D", data / "db", "-U", "postgres", "-A", "trust", "--no-sync",
             "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True, user=user, timeout=_START_TIMEOUT_SECONDS,
        )  # fmt: skip
        proc = subprocess.Popen(
            [bin_dir / "postgres", "-D", data / "db", "-p", str(port), "-k", data,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=user,
        )  # fmt: skip
        wait_for_port(port, _START_TIMEOUT_SECONDS, proc=proc)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # "fast" shutdown: no waiting for clients
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(data, ignore_errors=True)
