"""wrk (Debian's, a C load generator) driving one HTTP server, with the server's and wrk's own CPU:
the load generator of the HTTP benchmarks, which must not be their bottleneck."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

from loadtest.procs import cpu_seconds

_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (/proc/stat: all but idle and
    iowait): with the processes' own CPU it tells whether other load shared the run."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / _TICKS


_WRK_LUA = """
local counter, body, path, headers = 0, %(body)s, %(path)s, %(headers)s
function setup(thread)
  thread:set("offset", #threads_seen)
  table.insert(threads_seen, thread)
end
threads_seen = {}
function delay()
  return %(delay_ms)d
end
function request()
  counter = counter + 1
  local n = %(start)d + counter * %(threads)d + offset
  local id = string.format("%(id_format)s", n %% %(messages)d)
  return wrk.format("POST", path, headers, (string.gsub(body, "{ID}", id)))
end
function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%.3f, "non2xx": %%d, "errors": %%d, "p50_ms": %%.3f, ' ..
    '"p90_ms": %%.3f, "p99_ms": %%.3f, "max_ms": %%.3f}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk_script(
    path: str,
    headers: dict[str, str],
    threads: int,
    messages: int,
    start: int,
    delay_ms: int = 0,
    body: str = "",
    id_format: str = "BENCH%09d",
) -> str:
    """wrk's script: request n POSTs ``body`` with every ``{ID}`` replaced by an id,
    ``id_format % ((start + n) % messages)``: consecutive runs given consecutive starts never repeat
    an id while the ids last; each connection waits ``delay_ms`` after each answer (0: as fast as
    it can)."""
    table = "{" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
    return _WRK_LUA % {
        "start": start,
        "delay_ms": delay_ms,
        "body": _lua_string(body),
        "path": _lua_string(path),
        "headers": table + "}",
        "threads": threads,
        "messages": messages,
        "id_format": id_format,
    }


def run_wrk(url: str, script: str, connections: int, threads: int, seconds: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s"]
    out = subprocess.run([*args, handle.name, url], capture_output=True, text=True, check=True)
    os.unlink(handle.name)
    line = next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["events_per_second"] = round(result["requests"] / result["seconds"])
    return result


def measure(
    name: str,
    url: str,
    script: str,
    pid: int,
    connections: int,
    threads: int,
    seconds: int,
    *,
    also: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One wrk run, with the server's and wrk's CPU (cores used on average), each process of
    ``also`` (name -> pid: ``<name>_cpu_share``) and the whole machine's (``machine_cpu_share``)."""
    others = {label: cpu_seconds(other) for label, other in (also or {}).items()}
    busy = machine_busy_seconds()
    before = cpu_seconds(pid)
    children = os.times()  # wrk is reaped before it returns: its CPU lands in children_*
    result = run_wrk(url, script, connections, threads, seconds)
    after = os.times()
    server_cpu = cpu_seconds(pid) - before
    elapsed = result["seconds"]
    for label, other in (also or {}).items():
        result[f"{label}_cpu_share"] = round((cpu_seconds(other) - others[label]) / elapsed, 2)
    result["machine_cpu_share"] = round((machine_busy_seconds() - busy) / elapsed, 2)
    result["server_cpu_share"] = round(server_cpu / result["seconds"], 2)
    # The server's CPU per request: the figure least moved by other load on a shared machine.
    result["server_cpu_ms_per_event"] = round(server_cpu * 1000 / max(result["requests"], 1), 3)
    wrk_cpu = (after.children_user + after.children_system) - (
        children.children_user + children.children_system
    )
    result["wrk_cpu_share"] = round(wrk_cpu / result["seconds"], 2)
    return {"endpoint": name, "connections": connections, **result}
