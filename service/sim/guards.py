"""Evolution's guard chain, in its order: instance exists (404) -> api key (401).

Both run before the body is validated, so a caller with no key learns whether an instance exists
(contract sections 0 and 1).
"""

from __future__ import annotations

from service.sim.model import Instance
from service.sim.state import SimState
from service.sim.wire import HttpError, Request


def existing_instance(state: SimState, name: str) -> Instance:
    instance = state.instances.get(name)
    if instance is None:
        raise HttpError(404, [f'The "{name}" instance does not exist'])
    return instance


def authorize(state: SimState, request: Request, instance: Instance | None = None) -> None:
    """The global key, or the instance's own token; the same 401 (a string message) for a
    missing and for a wrong key."""
    key = request.apikey
    if key and (key == state.config.api_key or (instance is not None and key == instance.token)):
        return
    raise HttpError(401, "Unauthorized")


def guarded(state: SimState, request: Request, name: str) -> Instance:
    """The body parse (body-parser runs first), then the guards of an instance route."""
    request.json()
    instance = existing_instance(state, name)
    authorize(state, request, instance)
    return instance
