"""Webhook ingest: Evolution's messages.update posts into one `zapq api` process, measured with wrk,
against the bare FastAPI endpoint of loadtest/baseline_api.py (one Redis write) in the same run.

    .venv/bin/python -m loadtest.bench_webhooks [--duration 10] [--connections 4,16] [--rate 1000]

Redis holds ``--messages`` sent messages (with a callback URL, so each receipt also queues a
callback event, as in production); every request is a DELIVERY_ACK for a different one, so each is
applied (the slow path), not a duplicate. wrk is closed-loop: with c connections it runs at
c / latency; p99 at saturation bounds p99 at any lower rate. wrk's own CPU is reported to show the
load generator had headroom (on a 2-core machine it shares the cores with the server). The paced
run makes each connection wait after each answer (wrk's delay()) so that together they send about
``--rate`` events/s: p99 at that rate rather than at saturation.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from redis import Redis

from loadtest.procs import process, zapq_env
from loadtest.wrk import measure, wrk_script
from service.devstack import free_port, redis_server
from service.queue.keys import Keys
from service.queue.models import Content

TOKEN = "bench-webhook-token-0123456789abcdef"
# A DELIVERY_ACK as Evolution 2.3 posts it (flat data, envelope fields), about 400 bytes; {ID}
# is the keyId. The bare endpoint gets a body of the same size.
_BODY = (
    '{"event":"messages.update","instance":"zapq","data":{"keyId":"{ID}",'
    '"remoteJid":"5511987654321@s.whatsapp.net","fromMe":true,"status":"DELIVERY_ACK",'
    '"instanceId":"c9482c80-d4f3-4582-a484-1b5af43db273"},'
    '"destination":"http://127.0.0.1/v1/webhooks/evolution","date_time":"2026-03-02T12:00:00.000Z",'
    '"sender":"5511900000000@s.whatsapp.net","server_url":"http://evolution:8080","apikey":null}'
)


def preload(redis_url: str, count: int, callback_url: str = "http://127.0.0.1:9/callbacks") -> None:
    """``count`` messages recorded sent with Evolution key ids BENCH000000000..., as complete.lua
    leaves them (status, sent_at, provider index, callback URL)."""
    keys, redis = Keys(), Redis.from_url(redis_url)
    payload = Content(metadata={"invoice": "1234"}).encode()
    now = int(time.time() * 1000)
    for start in range(0, count, 5000):
        with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(start + 5000, count)):
                message_id, provider = f"BENCHMSG{i:09d}", f"BENCH{i:09d}"
                pipe.hset(
                    keys.message(message_id),
                    mapping={
                        "id": message_id, "to": "5511987654321", "priority": "normal",
                        "status": "sent", "sent_at": now, "created_at": now,
                        "expires_at": now + 86_400_000, "attempts": 1, "sender": "zapq",
                        "provider_id": provider, "payload": payload,
                        "callback_url": callback_url,
                        "history": json.dumps([["sent", now]]),
                    },
                )  # fmt: skip
                pipe.set(keys.provider(provider), message_id, px=86_400_000)
            pipe.execute()
    redis.close()


def _script(name: str, threads: int, messages: int, start: int, delay_ms: int) -> str:
    if name == "webhook":
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        return wrk_script(
            "/v1/webhooks/evolution", headers, threads, messages, start, delay_ms, _BODY
        )
    body = '{"text": "{ID}' + "x" * 380 + '"}'  # the size of a webhook body
    json_header = {"Content-Type": "application/json"}
    return wrk_script("/write", json_header, threads, messages, 0, delay_ms, body)


def _runs(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    """(mode, connections, delay ms): flat out at each --connections, then paced near --rate
    (each of --paced-connections waits so that together they send about --rate per second)."""
    runs = [("max", int(c), 0) for c in args.connections.split(",")]
    if args.rate:
        runs.append(("paced", args.paced_connections, args.paced_connections * 1000 // args.rate))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="4,16", help="comma-separated wrk -c values")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t")
    parser.add_argument("--messages", type=int, default=150_000, help="sent messages preloaded")
    parser.add_argument(
        "--rate", type=int, default=1000, help="events/s of the paced run (0: none)"
    )
    parser.add_argument("--paced-connections", type=int, default=20, help="connections, paced run")
    args = parser.parse_args()
    results = []
    with redis_server(Path(tempfile.mkdtemp())) as redis_url:
        preload(redis_url, args.messages)
        api_port, bare_port = free_port(), free_port()
        env = zapq_env(
            redis_url,
            "http://127.0.0.1:9",
            ZAPQ_EVOLUTION__WEBHOOK_TOKEN=TOKEN,
            ZAPQ_API__HOST="127.0.0.1",
            ZAPQ_API__PORT=str(api_port),
        )
        api_args = ["-m", "service", "api"]
        bare_args = ["-m", "uvicorn", "loadtest.baseline_api:app", "--port", str(bare_port)]
        bare_args += ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
        with process(api_args, env, api_port) as api, process(bare_args, env, bare_port) as bare:
            sent = 0  # webhook requests so far: the next run starts at the next key id
            for mode, connections, delay_ms in _runs(args):
                for name, port, pid in (
                    ("bare", bare_port, bare.pid),
                    ("webhook", api_port, api.pid),
                ):
                    url = f"http://127.0.0.1:{port}"
                    for seconds, measured in ((2, False), (args.duration, True)):  # warm-up first
                        script = _script(name, args.threads, args.messages, sent, delay_ms)
                        row = measure(name, url, script, pid, connections, args.threads, seconds)
                        # + connections: requests still in flight when wrk stopped counting
                        sent += row["requests"] + connections if name == "webhook" else 0
                        if measured:
                            results.append({"mode": mode, **row})
                            print(json.dumps(results[-1]), flush=True)
            metrics = httpx.get(f"http://127.0.0.1:{api_port}/metrics").text
    applied = [
        line for line in metrics.splitlines() if line.startswith("zapq_webhook_events_total{")
    ]
    print(json.dumps({"webhook_outcomes": applied}))
    for mode, connections, _ in _runs(args):
        pair = {
            row["endpoint"]: row
            for row in results
            if (row["mode"], row["connections"]) == (mode, connections)
        }
        ratio = pair["webhook"]["events_per_second"] / pair["bare"]["events_per_second"]
        cost = pair["webhook"]["server_cpu_ms_per_event"] / pair["bare"]["server_cpu_ms_per_event"]
        summary = {
            "mode": mode,
            "connections": connections,
            "rate_ratio": round(ratio, 2),
            "cpu_per_event_ratio": round(cost, 2),
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main())
