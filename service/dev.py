"""`zapq dev`: the whole stack on this machine, no setup.

Redis (embedded), the Evolution simulator (unless ZAPQ_EVOLUTION__BASE_URL is set), the API and N
workers, each a child process stopped by its PID.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from service.devstack import child_env, free_port, redis_server, stop_process, wait_for_port

_SIM_KEY = "evo-key"
_SIM_INSTANCE = "zapq"


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", *args], env=env)
    print(f"  started {name} (pid {proc.pid})", flush=True)
    return proc


def run_dev(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    api_key = os.environ.get("ZAPQ_API_KEYS", "").split(",")[0] or f"dev-{secrets.token_hex(16)}"
    with ExitStack() as stack:
        # Children first in, last out: workers drain before the API, Redis stops last.
        redis_url = stack.enter_context(redis_server(data_dir / "redis", appendonly=True))
        env = child_env(
            ZAPQ_REDIS_URL=redis_url, ZAPQ_API_KEYS=os.environ.get("ZAPQ_API_KEYS", api_key)
        )
        evolution_url = os.environ.get("ZAPQ_EVOLUTION__BASE_URL")
        if not evolution_url:
            sim_port = free_port()
            sim = _spawn(
                "evolution-sim",
                ["service.sim", "--port", str(sim_port), "--latency-ms", "100"],
                env,
            )
            children.append(("evolution-sim", sim))
            wait_for_port(sim_port, proc=sim)
            evolution_url = f"http://127.0.0.1:{sim_port}"
            env.update(
                ZAPQ_EVOLUTION__BASE_URL=evolution_url,
                ZAPQ_EVOLUTION__API_KEY=_SIM_KEY,
                ZAPQ_EVOLUTION__INSTANCE=_SIM_INSTANCE,
            )
        api = _spawn(
            "api", ["service", "api", "--host", "127.0.0.1", "--port", str(args.port)], env
        )
        children.append(("api", api))
        metrics_ports = [_preferred_port(9101 + index) for index in range(args.workers)]
        for index, metrics_port in enumerate(metrics_ports):
            name = f"worker-{index + 1}"
            worker_env = {
                **env,
                "ZAPQ_METRICS__PORT": str(metrics_port),
                "ZAPQ_METRICS__HOST": "127.0.0.1",
            }
            children.append((name, _spawn(name, ["service", "worker"], worker_env)))
        try:
            wait_for_port(args.port, timeout_seconds=30, proc=api)
            _banner(args, redis_url, evolution_url, api_key, metrics_ports)
            _wait(children)
        except KeyboardInterrupt:
            print("\nstopping...", flush=True)
        finally:
            for name, proc in reversed(children):
                stop_process(proc, timeout_seconds=40)
                print(f"  stopped {name}", flush=True)


def _preferred_port(port: int) -> int:
    """``port`` when it is free (stable URLs for a developer), else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def _banner(
    args: argparse.Namespace, redis_url: str, evolution_url: str, api_key: str, ports: list[int]
) -> None:
    base = f"http://127.0.0.1:{args.port}"
    workers = ", ".join(f"http://127.0.0.1:{port}/metrics" for port in ports)
    print(
        f"""
zapq dev is running (Ctrl-C stops everything)
  API:            {base}   (OpenAPI: {base}/docs)
  API key:        {api_key}
  Redis:          {redis_url}
  Evolution API:  {evolution_url}
  Worker metrics: {workers}

Try it:
  curl -s -X POST {base}/v1/messages -H 'Authorization: Bearer {api_key}' \\
       -H 'Content-Type: application/json' -d '{{"to": "+55 11 99999-9999", "text": "Olá!"}}'
  curl -s {base}/v1/queue -H 'Authorization: Bearer {api_key}'
""",
        flush=True,
    )


def _wait(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Block until Ctrl-C/SIGTERM, or until a child dies (then stop the rest)."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    while True:
        for name, proc in children:
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the stack", flush=True)
                return
        time.sleep(0.5)
