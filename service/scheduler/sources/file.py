"""CSV or JSON Lines charges, from a local path or an http(s) URL.

A URL is first streamed to a temporary file (memory stays one network chunk; a dropped download
is retried from the start; the token goes only to the URL's own origin, see sources/origin.py),
then read like a local file: rows in batches, the percent from the
bytes read so far. A JSON line that does not parse is one invalid record, not a failed run.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncGenerator, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from service.scheduler.charge import InvalidRecord
from service.scheduler.errors import SourceUnavailable
from service.scheduler.settings import ScheduleSettings
from service.scheduler.sources.base import Retryable, Source, safe_url, with_retries
from service.scheduler.sources.options import FileOptions
from service.scheduler.sources.origin import OriginClient

# Rows per batch: a few hundred KB of records at most, the same order as an HTTP page.
BATCH_ROWS = 1000
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


def file_format(location: str, options: FileOptions) -> str:
    if options.format != "auto":
        return options.format
    path = location.split("?", 1)[0].lower()
    if path.endswith(".csv"):
        return "csv"
    if path.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise SourceUnavailable(f"{safe_url(location)}: unknown file format (set source.file.format)")


def _jsonl(handle: io.TextIOWrapper) -> Iterator[Any]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            yield InvalidRecord(f"line {number} is not JSON")


class FileSource(Source):
    def __init__(
        self, location: str, token: str, options: FileOptions, schedule: ScheduleSettings
    ) -> None:
        self.location = location
        # A file behind a URL may need the same bearer token as the billing API.
        self._credentials = {"Authorization": f"Bearer {token}"} if token else {}
        self.options = options
        self.schedule = schedule
        self.format = file_format(location, options)
        self._size = 0
        self._raw: BinaryIO | None = None
        self._download: Path | None = None

    def fraction_done(self) -> float | None:
        if not self._size or self._raw is None or self._raw.closed:
            return None
        # The text layer reads ahead in 8 KiB chunks: close enough for a percent.
        return min(self._raw.tell() / self._size, 1.0)

    async def aclose(self) -> None:
        if self._download is not None:
            self._download.unlink(missing_ok=True)

    async def batches(self) -> AsyncGenerator[list[Any], None]:
        path = await self._local_path()
        try:
            raw = path.open("rb")
        except OSError as exc:
            raise SourceUnavailable(f"{path}: {exc.strerror or exc}") from exc
        self._size = path.stat().st_size
        with raw, io.TextIOWrapper(raw, encoding=self.options.encoding, newline="") as handle:
            self._raw = raw
            rows = self._rows(handle)
            try:
                while batch := list(islice(rows, BATCH_ROWS)):
                    yield batch
            except (UnicodeDecodeError, csv.Error) as exc:
                raise SourceUnavailable(f"{path}: {exc}") from exc

    def _rows(self, handle: io.TextIOWrapper) -> Iterator[Any]:
        if self.format == "jsonl":
            return _jsonl(handle)
        return csv.DictReader(handle, delimiter=self.options.delimiter)

    async def _local_path(self) -> Path:
        if not self.location.startswith(("http://", "https://")):
            return Path(self.location)
        fd, name = tempfile.mkstemp(prefix="zapq-charges-")
        os.close(fd)
        self._download = Path(name)
        await with_retries(self.schedule, safe_url(self.location), self._fetch)
        return self._download

    async def _fetch(self) -> None:
        assert self._download is not None
        timeout = self.schedule.source_timeout_seconds
        try:
            async with OriginClient(self.location, self._credentials, timeout) as client:
                response = await client.get(httpx.URL(self.location), stream=True)
                try:
                    await self._save(response, self._download)
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from exc

    async def _save(self, response: httpx.Response, path: Path) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise Retryable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SourceUnavailable(f"{safe_url(self.location)}: HTTP {response.status_code}")
        with path.open("wb") as out:
            async for chunk in response.aiter_bytes():
                out.write(chunk)
