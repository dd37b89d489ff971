"""DirectRoute: the ingest routes without FastAPI's per-request argument machinery.

FastAPI serves a request by solving the endpoint's dependency tree, parsing the content type,
reading the body into a dict and validating it through its own field wrapper: about 0.15 ms of the
0.7 ms a POST /v1/messages cost the API process (py-spy, docs/benchmarks.md "API ingest"). A
DirectRoute keeps the endpoint's signature as the operation's declaration (the OpenAPI document,
the guard's scope and body checks read it) and serves the plain case itself: a JSON body that
validates (parsed and validated in one pass by pydantic), headers that validate, and the principal
the guard found. It calls the endpoint with
exactly the arguments FastAPI would have passed. Anything else (a body or header that fails, an
unusual content type) goes to FastAPI's own handler, which answers it as before, so every error
stays FastAPI's, byte for byte (tests/api/test_direct.py compares both on a corpus of requests).

The endpoint must take ``request``, ``body``, ``principal`` (a scope dependency of auth.py) and
header parameters, nothing else; the route refuses any other signature when it is declared.
Checked against FastAPI 0.165.0: ``APIRoute.get_route_handler`` is the documented extension point
(custom route classes) and the request passes through ``request_response`` as for any route.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi import params
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from service.api.guard import required_scope
from service.auth.keys import Principal
from service.settings import Scope

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_FIXED = {"request", "body", "principal"}


class DirectRoute(APIRoute):
    """An APIRoute whose plain requests skip FastAPI's dependency solving (module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        hints = get_type_hints(endpoint, include_extras=True)
        self._body: TypeAdapter[Any] = TypeAdapter(hints["body"])
        scope = required_scope(self)
        if scope is None:
            raise TypeError(f"{endpoint.__name__}: a DirectRoute needs a scope dependency")
        self._scope: Scope = scope
        #: name -> (the header it reads, lower case bytes; its validator, from its declaration).
        self._headers = {
            param.name: (_alias(param).lower().encode("latin-1"), TypeAdapter(hints[param.name]))
            for param in self.dependant.header_params
        }
        unknown = set(hints) - _FIXED - set(self._headers) - {"return"}
        if unknown:
            raise TypeError(f"{endpoint.__name__}: a DirectRoute cannot pass {sorted(unknown)}")

    def get_route_handler(self) -> Handler:
        generic = super().get_route_handler()
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            arguments = await self._arguments(request)
            if arguments is None:
                return await generic(request)
            response: Response = await endpoint(**arguments)
            return response

        return handle

    async def _arguments(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's arguments when the request is the plain case, else None."""
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        if principal is None or not principal.allows(self._scope):
            return None
        headers = self._header_values(request)
        if headers is None or not _json_body(request):
            return None
        raw = await request.body()
        try:
            # pydantic parses the JSON itself: it accepts no document that json.loads (FastAPI's
            # parser) refuses and reads every one it accepts alike (tests/api/test_direct.py).
            body = self._body.validate_json(raw)
        except ValidationError:
            return None
        return {"request": request, "body": body, "principal": principal, **headers}

    def _header_values(self, request: Request) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        for name, (alias, adapter) in self._headers.items():
            raw = _first(request, alias)
            try:
                values[name] = adapter.validate_python(raw.decode("latin-1") if raw else raw)
            except ValidationError:
                return None
        return values


def _first(request: Request, name: bytes) -> bytes | None:
    """A header's first value (what Starlette's ``headers.get`` answers)."""
    return next((value for key, value in request.scope["headers"] if key == name), None)


def _json_body(request: Request) -> bool:
    """Whether FastAPI reads this request's body as JSON: application/json or +json."""
    media = (_first(request, b"content-type") or b"").split(b";")[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _alias(param: Any) -> str:
    info = param.field_info
    assert isinstance(info, params.Header)
    return info.alias or param.name.replace("_", "-")


def post(router: Any, path: str, **options: Any) -> Callable[[Any], Any]:
    """``@post(router, "/path", ...)``: ``router.post`` with a DirectRoute."""

    def register(endpoint: Any) -> Any:
        router.add_api_route(
            path, endpoint, methods=["POST"], route_class_override=DirectRoute, **options
        )
        return endpoint

    return register
