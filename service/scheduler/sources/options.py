"""How to read each kind of source: the ``source:`` section of the rules file.

Where to read and with which secret (URL, token, database URL) come from the environment
(ZAPQ_SCHEDULE__*); how to read it (pagination, field names) comes from here.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.scheduler.charge import FieldMap


class HttpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Where a page keeps its list of charges (dotted path; "" when the page is the list).
    items_path: str = "data"
    #: cursor: ?cursor=<next_cursor of the previous page>; next_url: follow the page's own link;
    #: page: ?page=1, 2, ... until a short or empty page; none: one request.
    pagination: Literal["cursor", "next_url", "page", "none"] = "cursor"
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"
    next_url_path: str = "next"
    page_param: str = "page"
    first_page: int = 1
    #: Query parameter that asks for a page size ("" sends none).
    page_size_param: str = "per_page"
    # 500 charges of ~300 B: a ~150 KB page, a fraction of a second to serve and parse.
    page_size: int = Field(500, ge=1, le=10_000)
    #: Where a page says how many charges there are in all (for the percent); "" if it never does.
    total_path: str = "total"
    #: Extra query parameters. "{run_date}", "{from_date}" and "{to_date}" become ISO dates:
    #: from/to bound the due dates any rule can match today, so the API can filter server-side.
    params: dict[str, str] = Field(default_factory=dict)
    #: The token (ZAPQ_SCHEDULE__SOURCE_TOKEN) goes in this header, after the scheme.
    auth_header: str = "Authorization"
    #: "Bearer" -> "Authorization: Bearer <token>"; "" sends the bare token (e.g. X-Api-Key).
    auth_scheme: str = "Bearer"


class FileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: auto: by extension (.csv; .jsonl / .ndjson / .json for JSON Lines).
    format: Literal["auto", "csv", "jsonl"] = "auto"
    delimiter: str = Field(",", min_length=1, max_length=1)
    # utf-8-sig also reads the byte-order mark spreadsheet exports start with.
    encoding: str = "utf-8-sig"


class SqlOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: A SELECT returning the Charge columns (or any names the field mapping points at). It may use
    #: :run_date, :from_date and :to_date (dates) to bound the due dates server-side.
    query: str = ""


class SourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: FieldMap = Field(default_factory=FieldMap)
    http: HttpOptions = Field(default_factory=HttpOptions)
    file: FileOptions = Field(default_factory=FileOptions)
    sql: SqlOptions = Field(default_factory=SqlOptions)


class DueRange(BaseModel):
    """The run's dates handed to a source: today and the due dates any rule can match."""

    run_date: date
    from_date: date
    to_date: date

    def as_params(self) -> dict[str, str]:
        return {name: value.isoformat() for name, value in self.model_dump().items()}
