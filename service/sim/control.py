"""The simulator's own control API under /_sim (no auth; the simulator binds to loopback).

GET  /_sim/config             the full config
POST /_sim/config             partial update of the knobs -> the full config
POST /_sim/reset              counters and messages cleared; {"config": true} also restores
                              the startup config
GET  /_sim/stats              sendText counters (see SimState.stats)
GET  /_sim/messages           accepted sends, oldest first; ?offset=&limit= page them
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic

from service.sim.config import SimConfig
from service.sim.state import SimState
from service.sim.wire import Request, Response, json_response


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


class Control:
    def __init__(self, state: SimState, startup: SimConfig) -> None:
        self.state = state
        self.startup = startup

    async def handle(self, request: Request, action: str) -> Response:
        route = (request.method, action)
        try:
            if route == ("GET", "config"):
                return self._config()
            if route == ("POST", "config"):
                return self._configure(_body(request))
            if route == ("POST", "reset"):
                reset_config = _body(request).get("config") is True
                self.state.reset(self.startup if reset_config else None)
                return self._config()
            if route == ("GET", "stats"):
                return json_response(200, self.state.stats())
            if route == ("GET", "messages"):
                query = request.query()
                offset = _int_param(query, "offset", 0) or 0
                return json_response(
                    200, self.state.message_page(offset, _int_param(query, "limit", None))
                )
        except ValueError as exc:  # also pydantic.ValidationError
            return _error(400, str(exc))
        return _error(404, f"no control route {request.method} /_sim/{action}")

    def _configure(self, changes: dict[str, Any]) -> Response:
        try:
            config = self.state.config.updated(changes)
        except pydantic.ValidationError as exc:
            return _error(400, str(exc))
        self.state.apply(config, rebuild_instances="instances" in changes)
        return self._config()

    def _config(self) -> Response:
        return json_response(200, self.state.config.model_dump())
