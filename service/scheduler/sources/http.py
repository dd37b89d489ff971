"""The billing system's JSON API: pages of charges, followed by cursor, next link or page number.

While the run works through one page the next one is already being fetched (one request ahead,
never more), so the source's latency and ours overlap and memory holds at most two pages.
The token goes only to the configured scheme, host and port (sources/origin.py): a ``next`` link to
anywhere else is refused, a redirect elsewhere is followed without it, https -> http never.
httpx errors stay in this module: they become Retryable or SourceUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from service.scheduler.charge import lookup
from service.scheduler.errors import SourceUnavailable
from service.scheduler.settings import ScheduleSettings
from service.scheduler.sources.base import Retryable, Source, safe_url, with_retries
from service.scheduler.sources.options import DueRange, HttpOptions
from service.scheduler.sources.origin import OriginClient

# Retried: the server is overloaded or restarting. Any other 4xx (bad token, wrong path) will not
# fix itself within a run.
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})

Request = tuple[str, dict[str, str]]


def expand(params: dict[str, str], due: DueRange) -> dict[str, str]:
    """Replace {run_date}, {from_date} and {to_date} in parameter values with ISO dates."""
    dates = due.as_params()
    out = {}
    for name, value in params.items():
        for key, iso in dates.items():
            value = value.replace("{" + key + "}", iso)
        out[name] = value
    return out


class HttpSource(Source):
    def __init__(
        self,
        url: str,
        token: str,
        options: HttpOptions,
        schedule: ScheduleSettings,
        due: DueRange,
    ) -> None:
        credentials = (
            {options.auth_header: f"{options.auth_scheme} {token}".strip()} if token else {}
        )
        self.options = options
        self.schedule = schedule
        self.url = url
        self.params = expand(options.params, due)
        if options.page_size_param:
            self.params[options.page_size_param] = str(options.page_size)
        self.read = 0
        self._client = OriginClient(
            url, credentials, schedule.source_timeout_seconds, {"Accept": "application/json"}
        )

    def fraction_done(self) -> float | None:
        return min(self.read / self.total, 1.0) if self.total else None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def batches(self) -> AsyncGenerator[list[Any], None]:
        current = self._first_request()
        pending: asyncio.Task[Any] | None = asyncio.create_task(self._get(*current))
        try:
            while pending is not None:
                page = await pending
                items = self._items(page, current)
                following = self._next_request(page, current, items)
                pending = asyncio.create_task(self._get(*following)) if following else None
                self.read += len(items)
                if items:
                    yield items
                current = following or current
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, SourceUnavailable):
                    await pending

    def _first_request(self) -> Request:
        if self.options.pagination == "page":
            return self.url, {**self.params, self.options.page_param: str(self.options.first_page)}
        return self.url, dict(self.params)

    def _next_request(self, page: Any, request: Request, items: list[Any]) -> Request | None:
        options = self.options
        url, params = request
        if not items or options.pagination == "none":
            return None
        if options.pagination == "cursor":
            cursor = lookup(page, options.next_cursor_path)
            return (url, {**params, options.cursor_param: str(cursor)}) if cursor else None
        if options.pagination == "next_url":
            link = lookup(page, options.next_url_path)
            if not link:
                return None
            following = urljoin(url, str(link))
            self._client.check_link(httpx.URL(following))
            return following, {}
        short = options.page_size_param and len(items) < options.page_size
        if short or (self.total is not None and self.read + len(items) >= self.total):
            return None
        number = int(params[options.page_param]) + 1
        return url, {**params, options.page_param: str(number)}

    def _items(self, page: Any, request: Request) -> list[Any]:
        total = lookup(page, self.options.total_path) if self.options.total_path else None
        if isinstance(total, int) and not isinstance(total, bool):
            self.total = total
        items = lookup(page, self.options.items_path) if self.options.items_path else page
        if not isinstance(items, list):
            where = self.options.items_path or "the top level"
            raise SourceUnavailable(f"{safe_url(request[0])}: no list of charges at {where}")
        return items

    async def _get(self, url: str, params: dict[str, str]) -> Any:
        async def attempt() -> Any:
            try:
                # Merged, not replaced: the configured URL may carry a query of its own.
                response = await self._client.get(httpx.URL(url).copy_merge_params(params))
            except httpx.HTTPError as exc:
                raise Retryable(f"{type(exc).__name__}: {exc}") from exc
            if response.status_code in _RETRY_STATUS:
                raise Retryable(f"HTTP {response.status_code}")
            if response.status_code >= 400:
                raise SourceUnavailable(f"{safe_url(url)}: HTTP {response.status_code}")
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError as exc:
                raise SourceUnavailable(f"{safe_url(url)}: the answer is not JSON") from exc

        return await with_retries(self.schedule, safe_url(url), attempt)
