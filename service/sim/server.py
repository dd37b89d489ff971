"""`zapq evolution-sim` / `python -m service.sim`: serve the simulator until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys

from service.sim.config import DEFAULT_API_KEY, DEFAULT_INSTANCE, SimConfig, parse_instance

# Node's default keepAliveTimeout, so idle connections close when Evolution's would.
_KEEP_ALIVE_SECONDS = 5
# Requests hung by timeout_rate must not hold a shutdown for their full hang.
_SHUTDOWN_GRACE_SECONDS = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's flags; every knob can also be changed at run time (POST /_sim/config),
    and those in config.Knobs per instance (POST /_sim/instances/{name})."""
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    add("--port", type=int, default=8080, help="port (default 8080)")
    add("--latency-ms", type=float, default=0.0, help="added to each sendText (default 0)")
    add("--latency-jitter-ms", type=float, default=0.0, help="latency +/- this (default 0)")
    add("--fail-5xx-rate", type=float, default=0.0, help="share of sends answered 500")
    add(
        "--connection-closed-rate",
        type=float,
        default=0.0,
        help='share answered 400 "Error: Connection Closed"',
    )
    add(
        "--timeout-rate",
        type=float,
        default=0.0,
        help="share held --timeout-hang-seconds, then sent",
    )
    add(
        "--timeout-hang-seconds",
        type=float,
        default=60.0,
        help="how long a hung send is held (default 60)",
    )
    add(
        "--invalid-number",
        dest="invalid_numbers",
        action="append",
        default=[],
        help="a number not on WhatsApp (repeatable)",
    )
    add(
        "--api-key", default=DEFAULT_API_KEY, help=f"the global API key (default {DEFAULT_API_KEY})"
    )
    add(
        "--instance",
        dest="instances",
        action="append",
        default=[],
        metavar="NAME[:TOKEN]",
        help=f"a connected instance and its own token (repeatable; default {DEFAULT_INSTANCE})",
    )
    add(
        "--media-upload-fail-rate",
        type=float,
        default=0.0,
        help="share of sendMedia answered 500 (upload to WhatsApp failed)",
    )
    add("--webhook-url", default=None, help="a webhook (all events) for every startup instance")
    add("--server-url", default=None, help="the envelope's server_url (default http://HOST:PORT)")
    add(
        "--webhook-retry-initial-delay-ms",
        type=float,
        default=5000.0,
        help="first webhook retry delay, doubled per attempt (default 5000, Evolution's)",
    )
    add("--webhook-shuffle", action="store_true", help="post a message's events out of order")
    add(
        "--webhook-duplicate-rate",
        type=float,
        default=0.0,
        help="share of webhook events posted twice",
    )
    add("--seed", type=int, default=None, help="seed for reproducible failure draws and ids")
    add("--connect-delay-seconds", type=float, default=1.0, help="connecting -> open (default 1)")
    add("--qr-wait-seconds", type=float, default=0.0, help="QR wait on create/connect (default 0)")


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Each flag's dest is the knob's name; --instance specs become the instances mapping."""
    knobs = {name: getattr(args, name) for name in SimConfig.model_fields if hasattr(args, name)}
    knobs["instances"] = dict(map(parse_instance, args.instances)) or {DEFAULT_INSTANCE: None}
    if knobs.get("server_url") is None and hasattr(args, "host"):
        knobs["server_url"] = f"http://{args.host}:{args.port}"
    return SimConfig.model_validate(knobs)


def run(args: argparse.Namespace) -> None:
    """Serve until SIGTERM or SIGINT; both end with a graceful stop and exit status 0."""
    import uvicorn

    from service.sim.app import SimApp

    try:
        config = config_from_args(args)
    except ValueError as exc:  # pydantic's ValidationError included: a rate above 1, say
        raise SystemExit(f"evolution-sim: invalid flags: {exc}") from exc
    server = uvicorn.Server(
        uvicorn.Config(
            SimApp(config),
            host=args.host,
            port=args.port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=_KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=_SHUTDOWN_GRACE_SECONDS,
        )
    )
    print(
        f"evolution-sim on http://{args.host}:{args.port} "
        f"(instances: {', '.join(config.instances)}; control API: /_sim/)",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn re-raises the signal it stopped on once it is done; these make that a clean exit.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: object) -> None:
    """Placeholder handler: uvicorn installs its own while serving."""
