"""Where charges come from: one small module per kind, chosen by ZAPQ_SCHEDULE__SOURCE.

http  the billing system's JSON API (sources/http.py)
file  CSV or JSON Lines, local or over http(s) (sources/file.py)
sql   a read-only query through SQLAlchemy (sources/sql.py)
"""

from __future__ import annotations

from service.scheduler.errors import ConfigError
from service.scheduler.settings import ScheduleSettings, SourceKind
from service.scheduler.sources.base import Source
from service.scheduler.sources.options import DueRange, SourceOptions


def open_source(
    kind: SourceKind, schedule: ScheduleSettings, options: SourceOptions, due: DueRange
) -> Source:
    """The configured source; ConfigError when its location is missing. Imports are lazy: a run
    reading a file never loads SQLAlchemy."""
    token = schedule.source_token.get_secret_value()
    if kind == "sql":
        from service.scheduler.sources.sql import SqlSource

        database_url = schedule.database_url.get_secret_value()
        if not database_url:
            raise ConfigError("the sql source needs ZAPQ_SCHEDULE__DATABASE_URL")
        return SqlSource(database_url, options.sql, schedule, due)
    if not schedule.source_url:
        raise ConfigError(f"the {kind} source needs ZAPQ_SCHEDULE__SOURCE_URL (or --source-url)")
    if kind == "file":
        from service.scheduler.sources.file import FileSource

        return FileSource(schedule.source_url, token, options.file, schedule)
    from service.scheduler.sources.http import HttpSource

    return HttpSource(schedule.source_url, token, options.http, schedule, due)
