"""`zapq dev` end to end: one command brings up Redis, the simulator, the API and two workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.devstack import free_port, wait_for_port

pytestmark = pytest.mark.slow


def test_zapq_dev_runs_the_stack_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPQ_")}
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service",
                "dev",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout_seconds=60, proc=proc)
        deadline = time.monotonic() + 30
        while "curl" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        banner = log.read_text()
        key = re.search(r"API key:\s+(\S+)", banner)
        assert key, banner
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        base = f"http://127.0.0.1:{port}"
        created = httpx.post(
            f"{base}/v1/messages", json={"to": "+55 11 99999-9999", "text": "Olá!"}, headers=headers
        )
        assert created.status_code == 202, created.text
        status = ""
        while status != "sent" and time.monotonic() < deadline + 30:
            status = httpx.get(
                f"{base}/v1/messages/{created.json()['id']}", headers=headers
            ).json()["status"]
            time.sleep(0.1)
        assert status == "sent"
        worker_metrics = re.search(r"Worker metrics:\s+(\S+?),", banner)
        assert worker_metrics, banner
        metrics = httpx.get(worker_metrics.group(1)).text
        assert "zapq_messages_sent_total" in metrics
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    text = log.read_text()
    for child in ("evolution-sim", "api", "worker-1", "worker-2"):
        assert f"stopped {child}" in text
    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", text)]
    assert len(pids) == 4
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
