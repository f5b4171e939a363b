"""The one exception hierarchy of VQL, rooted in PEP 249's classes.

Generic DB-API code catches ``vql.Error``/``vql.DatabaseError``; VQL-specific classes subclass
the PEP 249 class whose meaning they share (a parse error is a ``ProgrammingError``, a bad video
file is a ``DataError``, a model that cannot be loaded is an ``OperationalError``), as
duckdb-python does.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Position:
    """Where in the statement text an error points: 1-based line and column, and a length."""

    line: int
    column: int
    length: int = 1


class Warning(Exception):  # noqa: A001 - the name is mandated by PEP 249
    """PEP 249: important warnings such as data truncation."""


class Error(Exception):
    """PEP 249: base class of all VQL errors. May carry the statement and a position in it."""

    def __init__(self, message: str, *, sql: str | None = None, position: Position | None = None):
        super().__init__(message)
        self.message = message
        self.sql = sql
        self.position = position

    def with_source(self, sql: str) -> Error:
        """Attach the statement text, so that ``caret()`` can point into it."""
        if self.sql is None:
            self.sql = sql
        return self

    def caret(self) -> str:
        """The offending line of the statement with a caret under the error position."""
        if self.sql is None or self.position is None:
            return ""
        lines = self.sql.splitlines() or [""]
        index = min(max(self.position.line, 1), len(lines)) - 1
        text = lines[index]
        pad = " " * max(self.position.column - 1, 0)
        return f"{text}\n{pad}{'^' * max(self.position.length, 1)}"

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (line {self.position.line}, column {self.position.column})"


class InterfaceError(Error):
    """PEP 249: errors of the interface (closed cursor or connection, misuse of the API)."""


class DatabaseError(Error):
    """PEP 249: errors related to the database."""


class DataError(DatabaseError):
    """PEP 249: problems with the processed data (a file that is not a decodable video)."""


class OperationalError(DatabaseError):
    """PEP 249: errors of the database's operation, not necessarily the programmer's fault."""


class IntegrityError(DatabaseError):
    """PEP 249: relational integrity is affected."""


class InternalError(DatabaseError):
    """PEP 249: the engine met an internal inconsistency."""


class ProgrammingError(DatabaseError):
    """PEP 249: errors in the statement: syntax, unknown names, wrong arguments."""


class NotSupportedError(DatabaseError):
    """PEP 249: a method or statement the engine does not support."""


# --- VQL's own refinements -------------------------------------------------------------------


class ParseError(ProgrammingError):
    """The statement is not valid VQL. Carries line, column and the offending text."""

    def __init__(self, message: str, *, sql: str | None = None, position: Position | None = None,
                 text: str = ""):
        super().__init__(message, sql=sql, position=position)
        self.text = text


class BindError(ProgrammingError):
    """The statement parses but names something that does not exist or is misused."""


class CatalogError(ProgrammingError):
    """A catalog object is missing, or already exists."""


class ConcurrentChangeError(OperationalError):
    """Another connection changed the same catalog entries at the same time; the statement
    was rolled back and can be run again."""


class DatabaseInUseError(OperationalError):
    """Another process holds the database file (DuckDB allows one writer, or several readers
    while none writes); the message names that process and what to do."""


class VideoError(DataError):
    """A file could not be read as a video."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"cannot read video {path!r}: {reason}")
        self.path = path
        self.reason = reason


class ModelError(OperationalError):
    """A model could not be found or loaded."""


class UDFError(OperationalError):
    """A user-defined or built-in function failed while running."""


class DeviceError(OperationalError):
    """A device (``cuda``) was asked for and cannot be used here; the message says why."""


class QueryCanceledError(OperationalError):
    """The query was cancelled while it ran (its progress handler asked to stop)."""


class InfeasibleTargetError(OperationalError):
    """Even the fastest plan is estimated to miss the query's LATENCY or COST target (or no
    plan reaches its ACCURACY); the query did not start. Add BEST EFFORT to run it anyway."""


class MissingDependencyError(NotSupportedError):
    """An optional dependency is not installed; the message names the extra that provides it."""


class TargetNotOptimizedWarning(Warning, builtins.UserWarning):
    """A LATENCY/ACCURACY/COST target was stated but the plan was not optimized for it."""


class DamagedVideoWarning(Warning, builtins.UserWarning):
    """Some frames of a video could not be decoded (the file is damaged there): the query
    skipped them. ``SHOW TABLES`` counts them and ``vql_catalog.damaged_frames`` lists them."""


class FallbackWarning(Warning, builtins.UserWarning):
    """A function computes its answer another way than it would with everything installed:
    ``vehicle_count`` counting moving objects because no YOLO weights are on the model path."""


def suggestion(name: str, candidates: list[str] | tuple[str, ...] | set[str]) -> str:
    """' (did you mean X?)' for the closest candidate, or '' when nothing is close."""
    import difflib

    match = difflib.get_close_matches(name.lower(), sorted({c.lower() for c in candidates}), n=1)
    if not match:
        return ""
    original = next(c for c in candidates if c.lower() == match[0])
    return f" (did you mean {original!r}?)"


def from_duckdb(error: BaseException, rewrite: Callable[[str], str] = str) -> Error:
    """One of DuckDB's exceptions as the VQL error of the same meaning, its message without
    DuckDB's echo of the statement and passed through ``rewrite``."""
    import duckdb

    classes: tuple[tuple[type[BaseException], type[Error]], ...] = (  # most specific first
        (duckdb.ParserException, ParseError),
        (duckdb.CatalogException, CatalogError),
        (duckdb.BinderException, BindError),
        (duckdb.ProgrammingError, ProgrammingError),
        (duckdb.IntegrityError, IntegrityError),
        (duckdb.DataError, DataError),
        (duckdb.NotSupportedError, NotSupportedError),
        (duckdb.InternalError, InternalError),
        (duckdb.OperationalError, OperationalError),
    )
    message = rewrite(str(error).split("\n\nLINE ")[0].strip())
    for source, target in classes:
        if isinstance(error, source):
            return target(message)
    return DatabaseError(message)
