"""Real `zapq worker` processes for the tests: their environment, spawning, and cleanup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from loadtest.procs import zapq_env
from service.devstack import free_port


def worker_env(redis_url: str, sim_url: str, **extra: str) -> dict[str, str]:
    settings = {
        "ZAPQ_EVOLUTION__READ_TIMEOUT_SECONDS": "5",
        "ZAPQ_WORKER__POLL_DELAY_SECONDS": "0.01",
        "ZAPQ_WORKER__RETRY_DELAYS_SECONDS": "0.1,0.2,0.3",
        "ZAPQ_WORKER__MAX_JOBS": "5",
        "ZAPQ_METRICS__PORT": str(free_port()),
        "ZAPQ_METRICS__HOST": "127.0.0.1",
        "ZAPQ_LOG_LEVEL": "INFO",
    }
    return zapq_env(redis_url, sim_url, **{**settings, **extra})


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service", "worker"], env=env, stdout=out, stderr=out
        )


async def in_flight(sim: Any, n: int) -> bool:
    return bool(sim.stats()["in_flight"] >= n)
