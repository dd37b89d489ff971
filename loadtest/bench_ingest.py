"""API ingest, measured with wrk (issue #14, item 4). Rerun with:

    .venv/bin/python -m loadtest.bench_ingest [--duration 10] [--connections 8]

One `zapq api` process and the bare FastAPI baseline (loadtest/baseline_api.py: the same request
model validates the body, then one Redis SET) on the same uvicorn stack (uvloop, httptools), in the
same run, each driven by Debian's wrk (a C load generator; its own CPU is reported to show it had
headroom). Every request carries distinct phone numbers (no cache can help). Cases:

- bare:   POST /write-validated, one message per request
- single: POST /v1/messages, one message per request (auth, phone parsing, one atomic enqueue)
- batch:  POST /v1/messages/batch, 100 messages per request

Figures: requests/s and messages/s, p50/p99, server CPU per message; ratios single / bare and
batch messages/s / bare requests/s.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

from redis import Redis

from loadtest.bench_pipeline import AUTH, TEXT
from loadtest.procs import process, zapq_env
from loadtest.wrk import measure, wrk_script
from service.devstack import free_port, redis_server

BATCH = 100
_HEADERS = {"Content-Type": "application/json", **AUTH}
# +55 11 98 plus a 7-digit number: {ID} is 5 digits of the request's counter, the last 2 the item.
_ITEM = '{"to": "+551198{ID}%02d", "text": "' + TEXT + '"}'
_SINGLE = _ITEM % 0
_BATCH = '{"messages": [' + ", ".join(_ITEM % i for i in range(BATCH)) + "]}"


def _run(
    name: str, url: str, pid: int, redis_pid: int, args: argparse.Namespace, start: int
) -> dict[str, Any]:
    path, body, per_request = {
        "bare": ("/write-validated", _SINGLE, 1),
        "single": ("/v1/messages", _SINGLE, 1),
        "batch": ("/v1/messages/batch", _BATCH, BATCH),
    }[name]
    script = wrk_script(path, _HEADERS, 1, 100_000, start, 0, body, "%05d")
    measure(name, url, script, pid, args.connections, 1, 2)  # warm-up
    also = {"redis": redis_pid}
    row = measure(name, url, script, pid, args.connections, 1, args.duration, also=also)
    row["messages_per_second"] = row["events_per_second"] * per_request
    row["server_cpu_ms_per_message"] = round(row.pop("server_cpu_ms_per_event") / per_request, 4)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8, help="wrk -c")
    args = parser.parse_args()
    rows: dict[str, dict[str, Any]] = {}
    with redis_server(Path(tempfile.mkdtemp())) as redis_url:
        redis_pid = int(Redis.from_url(redis_url).info("server")["process_id"])
        api_port, bare_port = free_port(), free_port()
        env = zapq_env(redis_url, "http://127.0.0.1:9")
        api = ["-m", "service", "api", "--host", "127.0.0.1", "--port", str(api_port)]
        bare = ["-m", "uvicorn", "loadtest.baseline_api:app", "--port", str(bare_port)]
        bare += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level"]
        bare += ["warning"]
        with process(api, env, api_port) as api_proc, process(bare, env, bare_port) as bare_proc:
            servers = {
                "bare": (bare_port, bare_proc.pid),
                "single": (api_port, api_proc.pid),
                "batch": (api_port, api_proc.pid),
            }
            for start, (name, (port, pid)) in enumerate(servers.items()):
                url = f"http://127.0.0.1:{port}"
                rows[name] = _run(name, url, pid, redis_pid, args, start * 30_000)
                print(json.dumps(rows[name]), flush=True)
    bare_rate = rows["bare"]["messages_per_second"]
    summary = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "single_over_bare": round(rows["single"]["messages_per_second"] / bare_rate, 3),
        "batch_messages_over_bare_requests": round(
            rows["batch"]["messages_per_second"] / bare_rate, 2
        ),
        "non2xx": {name: row["non2xx"] for name, row in rows.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
