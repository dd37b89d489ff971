"""The simulator's own control API under /_sim (no auth; the simulator binds to loopback).

GET  /_sim/config               the full config
POST /_sim/config               partial update of the knobs -> the full config
POST /_sim/reset                counters, messages, webhook deliveries and per-instance
                                overrides cleared, instances rebuilt; {"config": true} also
                                restores the startup config
GET  /_sim/stats                send counters, by_instance, webhooks (see SimState.stats)
GET  /_sim/messages             accepted sends, oldest first; ?offset=&limit= page them
GET  /_sim/instances            every instance: effective knobs, state, counters, webhook
GET  /_sim/instances/{name}     one of them
POST /_sim/instances/{name}     knob overrides, connection_closed, state, reset (InstanceChanges)
GET  /_sim/webhooks             webhook post attempts, oldest first; ?offset=&limit=
POST /_sim/inbound              {"instance", "from", "text"[, "pushName"]}: a customer's message
                                (messages.upsert) -> the messageRaw
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import islice
from typing import Any
from urllib.parse import unquote

import orjson
import pydantic

from service.sim import events
from service.sim.config import InstanceChanges, SimConfig
from service.sim.lifecycle import set_state
from service.sim.model import Instance
from service.sim.state import SimState
from service.sim.wire import Request, Response, json_response


class ControlError(ValueError):
    """A control request that cannot be served: its status and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


def _body(request: Request) -> dict[str, Any]:
    try:
        data = orjson.loads(request.raw_body) if request.raw_body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _int_param(query: dict[str, str], name: str, default: int | None) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return default
    number = int(value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0")
    return number


def _page(request: Request) -> tuple[int, int | None]:
    query = request.query()
    return _int_param(query, "offset", 0) or 0, _int_param(query, "limit", None)


def _bounds(request: Request) -> tuple[int, int | None]:
    """?offset=&limit= as islice's start and stop."""
    offset, limit = _page(request)
    return offset, None if limit is None else offset + limit


def validation_message(exc: pydantic.ValidationError) -> str:
    """One line per problem, each naming its field: "fail_5xx_rate: Input should be ..."."""
    return "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'body'}: {error['msg']}" for error in exc.errors()
    )


class Control:
    def __init__(self, state: SimState, startup: SimConfig) -> None:
        self.state = state
        self.startup = startup
        self._routes = self._route_table()

    async def handle(self, request: Request, action: str) -> Response:
        try:
            return self._route(request, action)
        except pydantic.ValidationError as exc:
            return _error(400, validation_message(exc))
        except ControlError as exc:
            return _error(exc.status, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))

    def _route(self, request: Request, action: str) -> Response:
        if action.startswith("instances/"):
            name = unquote(action.removeprefix("instances/"))
            if request.method == "GET":
                return json_response(200, self._instance(name).describe())
            if request.method == "POST":
                return self._change_instance(name, _body(request))
        handler = self._routes.get((request.method, action))
        if handler is None:
            raise ControlError(404, f"no control route {request.method} /_sim/{action}")
        return handler(request)

    def _route_table(self) -> dict[tuple[str, str], Callable[[Request], Response]]:
        state = self.state
        return {
            ("GET", "config"): lambda _: self._config(),
            ("POST", "config"): lambda request: self._configure(_body(request)),
            ("POST", "reset"): self._reset,
            ("GET", "stats"): lambda _: json_response(200, state.stats()),
            ("GET", "messages"): lambda request: json_response(
                200, state.message_page(*_page(request))
            ),
            ("GET", "instances"): lambda _: json_response(
                200, [i.describe() for i in state.instances.values()]
            ),
            ("GET", "webhooks"): lambda request: json_response(
                200, list(islice(state.webhooks.log, *_bounds(request)))
            ),
            ("POST", "inbound"): lambda request: self._inbound(_body(request)),
        }

    def _reset(self, request: Request) -> Response:
        reset_config = _body(request).get("config") is True
        self.state.reset(self.startup if reset_config else None)
        return self._config()

    def _instance(self, name: str) -> Instance:
        instance = self.state.instances.get(name)
        if instance is None:
            raise ControlError(404, f"no instance {name!r}")
        return instance

    def _configure(self, changes: dict[str, Any]) -> Response:
        config = self.state.config.updated(changes)
        self.state.apply(config, rebuild_instances="instances" in changes)
        return self._config()

    def _config(self) -> Response:
        return json_response(200, self.state.config.model_dump())

    def _change_instance(self, name: str, body: dict[str, Any]) -> Response:
        """Validate everything first (knob values against the effective knobs too), then
        apply: a bad field changes nothing."""
        instance = self._instance(name)
        changes = InstanceChanges.model_validate(body)
        overrides = {} if changes.reset else dict(instance.overrides)
        overrides.update(changes.overrides())
        knobs = self.state.knobs(overrides)
        instance.overrides, instance.knobs = overrides, knobs
        if changes.reset:
            instance.connection_closed = False
        if changes.connection_closed is not None:
            instance.connection_closed = changes.connection_closed
        if changes.state is not None:
            set_state(self.state, instance, changes.state)
        return json_response(200, instance.describe())

    def _inbound(self, body: dict[str, Any]) -> Response:
        unknown = set(body) - {"instance", "from", "text", "pushName"}
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
        instance = self._instance(_text_field(body, "instance"))
        sender = _text_field(body, "from")
        if not sender.isdigit():
            raise ValueError("from must be the customer's number, digits only")
        if instance.state != "open":
            raise ControlError(409, f"instance {instance.name!r} is {instance.state}, not open")
        push_name = body.get("pushName", "Cliente")
        if not isinstance(push_name, str):
            raise ValueError("pushName must be a string")
        message = events.inbound(self.state, instance, sender, _text_field(body, "text"), push_name)
        return json_response(200, message)


def _text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} is required and must be a non-empty string")
    return value
