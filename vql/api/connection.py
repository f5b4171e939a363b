"""PEP 249 connection."""

from __future__ import annotations

import dataclasses
import typing as t
import weakref
from collections.abc import Sequence

from vql import errors
from vql.api.cursor import Cursor
from vql.exec.progress import ProgressHandler
from vql.session.engine import Engine
from vql.settings import Settings


class Connection:
    """A connection to one VQL database (a DuckDB file, or ``:memory:``).

    By default each statement is committed as it succeeds (``autocommit`` is True, as in
    DuckDB's Python API and in the sqlite3 and duckdb shells), so a later mistake never undoes
    earlier work: a failed statement undoes only itself. ``BEGIN`` opens a transaction
    explicitly; it lasts until ``COMMIT``/``ROLLBACK`` (or ``commit()``/``rollback()``), and a
    statement that fails inside DuckDB aborts it, which VQL rolls back and says so in the error.

    ``autocommit=False`` gives PEP 249's model instead: a transaction starts implicitly with the
    first statement and lasts until ``commit()`` or ``rollback()``; closing without committing
    rolls it back, and so does a statement that fails inside DuckDB. (PEP 249 asks for this as
    the default; VQL departs from it because that default loses loads and functions to a
    typo, see docs/interfaces.md.) Used as a context manager, the connection commits (or
    rolls back on an exception) and closes.
    """

    Warning = errors.Warning
    Error = errors.Error
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self, database: str = ":memory:", *, read_only: bool = False,
                 autocommit: bool = True, settings: Settings | None = None,
                 load_functions: bool = True):
        self._engine = Engine(str(database), settings=settings, read_only=read_only,
                              autocommit=autocommit, load_functions=load_functions)
        self._closed = False
        self._active: Cursor | None = None
        self._cursors: weakref.WeakSet[Cursor] = weakref.WeakSet()
        self.messages: list[tuple[type, str]] = [(errors.Warning, n) for n in
                                                 self._engine.notices]

    # --- PEP 249 -----------------------------------------------------------------------------

    def cursor(self) -> Cursor:
        """A new cursor that runs statements on this connection."""
        self._check_open()
        cursor = Cursor(self)
        self._cursors.add(cursor)
        return cursor

    def commit(self) -> None:
        """Commit the current transaction (the active cursor's unread rows are read first)."""
        self._check_open()
        self._release_active()
        self._engine.commit()

    def rollback(self) -> None:
        """Undo the current transaction, its CREATE/DROP FUNCTION included (the active
        cursor's unread rows are read first)."""
        self._check_open()
        self._release_active()
        self._engine.rollback()

    def close(self) -> None:
        """Close the connection, rolling back what was not committed. As PEP 249 says, any
        later operation, a second close included, raises an Error."""
        self._check_open()
        for cursor in list(self._cursors):
            cursor._release()
        self._engine.close()
        self._closed = True

    # --- extensions --------------------------------------------------------------------------

    @property
    def autocommit(self) -> bool:
        """Whether each statement commits as it succeeds; setting it True commits an open
        transaction."""
        return self._engine.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._check_open()
        if value and not self._engine.autocommit:
            self.commit()
        self._engine.autocommit = bool(value)

    def set_progress_handler(self, handler: ProgressHandler | None,
                             interval: float = 0.5) -> None:
        """Call ``handler(progress)`` at most every ``interval`` seconds while a query reads
        frames, and once when its scans are done; ``progress`` has ``frames_done``,
        ``frames_total``, ``elapsed_s``, ``rate`` (frames/s), ``eta_s`` and ``describe()``.
        A handler that returns a true value cancels the query with ``QueryCanceledError``
        (the connection stays usable). ``None`` removes the handler."""
        self._check_open()
        if handler is not None and not callable(handler):
            raise errors.ProgrammingError("the progress handler must be callable or None")
        if interval < 0:
            raise errors.ProgrammingError("the progress interval must be >= 0 seconds")
        self._engine.progress_handler = None if handler is None else (handler, float(interval))

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called on this connection."""
        return self._closed

    @property
    def engine(self) -> Engine:
        """The engine behind this connection (catalog, registry, settings, optimizer options)."""
        self._check_open()
        return self._engine

    def execute(self, operation: str, parameters: Sequence[t.Any] | None = None) -> Cursor:
        """A new cursor with ``operation`` executed (as sqlite3 and DuckDB offer)."""
        return self.cursor().execute(operation, parameters)

    def sql(self, query: str, params: Sequence[t.Any] | None = None) -> Cursor:
        """``execute`` under DuckDB's name: ``con.sql("...").df()``, ``.arrow()``,
        ``.fetchall()``. Unlike DuckDB's lazy relation it runs at once."""
        return self.execute(query, params)

    def executemany(self, operation: str,
                    seq_of_parameters: t.Iterable[Sequence[t.Any]]) -> Cursor:
        """A new cursor with ``operation`` executed once per parameter sequence."""
        return self.cursor().executemany(operation, seq_of_parameters)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        if self._closed:
            return
        try:
            if exc_type is None:
                self.commit()
            else:
                self.rollback()
        finally:
            self.close()

    # --- for cursors -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the connection is closed")

    def _before_statement(self, cursor: Cursor) -> None:
        self._check_open()
        if self._active is not None and self._active is not cursor:
            self._release_active()

    def _release_active(self) -> None:
        active, self._active = self._active, None
        if active is not None:
            active._drain()

    def _set_active(self, cursor: Cursor) -> None:
        self._active = cursor

    def _clear_active(self, cursor: Cursor) -> None:
        if self._active is cursor:
            self._active = None


def connect(database: str = ":memory:", *, read_only: bool = False, autocommit: bool = True,
            settings: Settings | None = None, load_functions: bool = True,
            runner: str | None = None, ray_address: str | None = None) -> Connection:
    """Open a VQL database: a DuckDB file path (created if missing) or ``":memory:"``.

    ``load_functions=False`` opens it without running the files of its ``CREATE FUNCTION ...
    FROM`` functions: a function file is Python code, so open a database you did not make
    this way. Otherwise each file runs only if unchanged since its CREATE FUNCTION.

    ``runner="ray"`` computes each query's frame functions on a Ray actor pool, a video per
    task, before the query runs here from the result cache (``SET runner`` changes it later;
    default ``$VQL_RUNNER`` or ``"local"``); ``ray_address`` attaches to a running cluster
    (``"auto"`` or an address; default: a local Ray instance started for each query).

    ``autocommit`` (default True) commits each statement as it succeeds; False gives PEP 249's
    implicit transactions, ended by ``commit()`` or ``rollback()``."""
    if runner is not None or ray_address is not None:
        base = settings or Settings.from_env()
        settings = dataclasses.replace(
            base, runner=base.runner if runner is None else runner,
            ray_address=base.ray_address if ray_address is None else ray_address)
    return Connection(database, read_only=read_only, autocommit=autocommit, settings=settings,
                      load_functions=load_functions)
