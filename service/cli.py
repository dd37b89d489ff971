"""The `zapq` command: api, worker, evolution-sim, status, schedule, dev (and, as it lands,
operator).

Every command that reads settings does so through service.config_errors.load_settings: an invalid
one exits 2 with one line per problem naming its ZAPQ_* variable, never its value.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from service.config_errors import load_settings
from service.logging import configure_logging


def _api(args: argparse.Namespace) -> None:
    import uvicorn

    from service.api.app import create_app
    from service.api.server import bounded_http
    from service.auth.keys import weak_key_problems
    from service.config_errors import fail

    settings = load_settings()
    problems = weak_key_problems(settings)
    if problems:
        fail([f"invalid setting {problem}" for problem in problems])
    configure_logging(settings.log_level)
    # One process per pod: scale with replicas, so prometheus-client needs no multiprocess mode.
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api.host,
        port=args.port or settings.api.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http=bounded_http(settings.api.max_header_bytes),
        timeout_graceful_shutdown=10,
    )


def _worker(_: argparse.Namespace) -> None:
    from service.worker.main import run_worker

    settings = load_settings()
    configure_logging(settings.log_level)
    run_worker(settings)


def _sim(args: argparse.Namespace) -> None:
    from service.sim import server as server

    server.run(args)


def _status(args: argparse.Namespace) -> None:
    from service.status import run

    run(load_settings(), args)


def _schedule(args: argparse.Namespace) -> None:
    from service.scheduler.cli import run

    run(args, load_settings())


def _senders(args: argparse.Namespace) -> None:
    from service.senders.cli import run

    run(load_settings(), args)


def _dev(args: argparse.Namespace) -> None:
    from service.dev import run_dev

    # Checked before anything starts: the children read the same environment.
    load_settings()
    run_dev(args)


def _operator(_: argparse.Namespace) -> None:
    from service.config_errors import fail
    from service.operator.main import run

    settings = load_settings()
    problems = [
        f"invalid setting {name}: is required by zapq operator"
        for name, value in (
            ("ZAPQ_OPERATOR__WEBHOOK_URL", settings.operator.webhook_url),
            ("ZAPQ_EVOLUTION__WEBHOOK_TOKEN", settings.evolution.webhook_token.get_secret_value()),
        )
        if not value
    ]
    if problems:
        fail(problems)
    configure_logging(settings.log_level)
    run(settings)


def _keys(args: argparse.Namespace) -> None:
    from service.auth.cli import run

    run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zapq", description="WhatsApp notifications at scale.")
    sub = parser.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="serve the HTTP API (uvicorn)")
    api.add_argument("--host", help="bind address (default: ZAPQ_API__HOST, 0.0.0.0)")
    api.add_argument("--port", type=int, help="port (default: ZAPQ_API__PORT, 8000)")
    api.set_defaults(handler=_api)

    worker = sub.add_parser("worker", help="run one arq worker process")
    worker.set_defaults(handler=_worker)

    sim = sub.add_parser("evolution-sim", help="run the Evolution API v2 simulator")
    from service.sim import server as server

    server.add_arguments(sim)
    sim.set_defaults(handler=_sim)

    status = sub.add_parser(
        "status", help="queue depths, ages, send rate and time to drain (reads Redis)"
    )
    status.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    status.add_argument(
        "--interval", type=float, default=2.0, help="seconds between refreshes (default 2)"
    )
    status.add_argument(
        "--metrics-url",
        action="append",
        help="a worker's /metrics URL, for the send rate; repeat for each worker "
        "(default: ZAPQ_STATUS__METRICS_URLS, comma-separated)",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per refresh")
    status.set_defaults(handler=_status)

    schedule = sub.add_parser(
        "schedule", help="enqueue today's billing reminders (run daily by a CronJob)"
    )
    from service.scheduler import cli as schedule_cli

    schedule_cli.add_arguments(schedule)
    schedule.set_defaults(handler=_schedule)

    senders = sub.add_parser(
        "senders", help="list the sender pool, pause or resume a sender, draw its QR code"
    )
    from service.senders import cli as senders_cli

    senders_cli.add_arguments(senders)
    senders.set_defaults(handler=_senders)

    keys = sub.add_parser("keys", help="make an API key (prints its secret once)")
    from service.auth import cli as keys_cli

    keys_cli.add_arguments(keys)
    keys.set_defaults(handler=_keys)

    dev = sub.add_parser(
        "dev", help="run the whole stack locally: Redis, simulator, API, 2 workers"
    )
    dev.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    dev.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    dev.add_argument(
        "--data-dir", default=".zapq-dev", help="Redis data folder (default .zapq-dev)"
    )
    dev.set_defaults(handler=_dev)

    operator = sub.add_parser(
        "operator", help="run the kopf operator of WhatsAppInstance resources (docs/operator.md)"
    )
    operator.set_defaults(handler=_operator)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except KeyboardInterrupt:
        sys.exit(130)
