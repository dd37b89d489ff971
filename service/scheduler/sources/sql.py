"""A read-only SELECT through SQLAlchemy (PostgreSQL tested; any dialect with an async driver).

The query runs in a read-only transaction (PostgreSQL refuses any write in it) on one connection,
and rows stream from a server-side cursor in batches, so memory does not grow with the result. The
database role should be read-only too: the transaction flag protects against a mistaken query, the
role against everything else.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from service.scheduler.errors import ConfigError, SourceUnavailable
from service.scheduler.settings import ScheduleSettings
from service.scheduler.sources.base import Source
from service.scheduler.sources.options import DueRange, SqlOptions

# Rows fetched from the server-side cursor per round trip, and handed on as one batch.
BATCH_ROWS = 1000
# Plain URLs get the async psycopg 3 driver (a dependency of zapq).
_ASYNC_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


class SqlSource(Source):
    def __init__(
        self, database_url: str, options: SqlOptions, schedule: ScheduleSettings, due: DueRange
    ) -> None:
        if not options.query.strip():
            raise ConfigError("source.sql.query is empty in the rules file")
        try:
            url = make_url(database_url)
        except ArgumentError as exc:
            raise ConfigError("ZAPQ_SCHEDULE__DATABASE_URL is not a database URL") from exc
        url = url.set(drivername=_ASYNC_DRIVERS.get(url.drivername, url.drivername))
        self.where = url.render_as_string(hide_password=True)
        postgres = url.get_backend_name() == "postgresql"
        timeout = {"connect_timeout": int(schedule.source_timeout_seconds)}
        self._engine = create_async_engine(
            url,
            pool_size=1,
            connect_args=timeout if postgres else {},
            execution_options={"postgresql_readonly": True} if postgres else {},
        )
        self.statement = text(options.query)
        # Bind only the dates the query names: a text() statement refuses unknown parameters.
        wanted = self.statement.compile().params
        self.params = {k: v for k, v in due.model_dump().items() if k in wanted}

    async def aclose(self) -> None:
        await self._engine.dispose()

    async def batches(self) -> AsyncGenerator[list[Any], None]:
        try:
            async with self._engine.connect() as connection:
                result = await connection.stream(self.statement, self.params)
                async for rows in result.mappings().partitions(BATCH_ROWS):
                    yield [dict(row) for row in rows]
        except (SQLAlchemyError, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise SourceUnavailable(f"{self.where}: {type(reason).__name__}: {reason}") from exc
