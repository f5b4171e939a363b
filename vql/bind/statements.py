"""Bound statements: what the binder hands to execution, one frozen class per statement kind."""

from __future__ import annotations

from dataclasses import dataclass

from vql.bind.options import QueryOptions
from vql.plan.nodes import Relational


@dataclass(frozen=True, slots=True)
class CreateVideoTable:
    """CREATE VIDEO TABLE name FROM 'src', or (``load``) LOAD VIDEO 'src' INTO name."""

    name: str
    source: str
    load: bool  # LOAD VIDEO ... INTO (creates the table if needed) vs CREATE VIDEO TABLE
    watch: bool = False  # ... FROM 'folder/*.mp4' WATCH: finished segments join as they appear


@dataclass(frozen=True, slots=True)
class DropVideoTable:
    """DROP VIDEO TABLE [IF EXISTS] name."""

    name: str
    if_exists: bool


@dataclass(frozen=True, slots=True)
class CreateFunction:
    """CREATE [OR REPLACE] FUNCTION: from a Python file (``source_file``), or a macro of
    ``params`` whose expression is ``body``."""

    name: str
    replace: bool
    source_file: str | None = None
    params: tuple[str, ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class DropFunction:
    """DROP FUNCTION [IF EXISTS] name."""

    name: str
    if_exists: bool


@dataclass(frozen=True, slots=True)
class ShowTables:
    """SHOW TABLES: video tables with their video and frame counts, then plain tables."""


@dataclass(frozen=True, slots=True)
class ShowFunctions:
    """SHOW FUNCTIONS: every function with its signature, traits and origin."""


@dataclass(frozen=True, slots=True)
class ClearCache:
    """CLEAR CACHE [function]: drop the result cache (or one function's part of it)."""

    function: str | None


@dataclass(frozen=True, slots=True)
class DescribeVideoTable:
    """DESCRIBE of a video table: the columns every video table has."""

    name: str


@dataclass(frozen=True, slots=True)
class AnalyzeVideoTable:
    """ANALYZE <video table>: measure and store what its operators cost per frame."""

    name: str


@dataclass(frozen=True, slots=True)
class CreateView:
    """CREATE [OR REPLACE] VIEW over video tables: kept in the catalog (vql/bind/views.py).

    ``sql`` is the view's query (None: the view is DuckDB's own, ``plain`` creates it, and a
    catalog view of that name is replaced by it); ``drop_duckdb_view`` replaces a DuckDB view
    of that name."""

    name: str
    sql: str | None
    plain: Query | None = None
    drop_duckdb_view: bool = False


@dataclass(frozen=True, slots=True)
class DropView:
    """DROP VIEW of a view over video tables."""

    name: str


@dataclass(frozen=True, slots=True)
class SetOption:
    """SET runner = 'ray': one of the session's own options (``SESSION_OPTIONS``); any other
    SET is DuckDB's."""

    name: str
    value: str


# What SET changes in the session rather than in DuckDB (vql/session/runners.py)
SESSION_OPTIONS = ("runner", "ray_address")


@dataclass(frozen=True, slots=True)
class Transaction:
    """BEGIN, COMMIT or ROLLBACK."""

    action: str  # "begin", "commit" or "rollback"


@dataclass(frozen=True, slots=True)
class Query:
    """A statement DuckDB runs, over video pipelines when it reads video tables.

    ``returns_rows`` is False for DDL/DML and None when unknown (raw commands: DuckDB's answer
    decides); ``rowcount_from_result`` is set for INSERT/UPDATE/DELETE.
    """

    plan: Relational
    options: QueryOptions
    returns_rows: bool | None = True
    rowcount_from_result: bool = False
    notices: tuple[str, ...] = ()  # told once as a FallbackWarning (see FunctionSpec.notice)
    # internal name -> what the user wrote, for text the user sees (vql/bind/names.py)
    names: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Render:
    """RENDER [TIMELINE] 'file' [OVERWRITE] AS <query>: a picture of the query's result."""

    query: Query
    target: str
    timeline: bool
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class Explain:
    """EXPLAIN [ANALYZE] of a query: its plans and estimates (``analyze``: planned as run)."""

    query: Query
    analyze: bool


Bound = (CreateVideoTable | DropVideoTable | CreateFunction | DropFunction | ShowTables
         | ShowFunctions | ClearCache | DescribeVideoTable | AnalyzeVideoTable | Transaction | Query
         | Explain | Render | CreateView | DropView | SetOption)
