"""An open VQL database: the DuckDB connection, catalog, functions, settings and transaction.

``Engine.run`` takes statement text and parameters through every stage:
parse (``vql.sql``) -> bind (``vql.bind``) -> the statement's handler (``vql.session.statements``;
a query: optimize, tune, physical plan and run, ``vql.session.query``). The DB-API layer
(``vql.api``) wraps it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from vql import errors
from vql.bind.binder import Binder
from vql.bind.names import user_facing
from vql.bind.statements import Query, Transaction
from vql.catalog import Catalog
from vql.catalog.results import ResultCache
from vql.exec.progress import ProgressHandler
from vql.exec.result import Result
from vql.functions import geometry
from vql.functions.registry import FunctionRegistry, file_hash
from vql.optimize import OptimizerOptions
from vql.services import Services
from vql.session.lock import is_lock_conflict, lock_error
from vql.session.runners import check_runner, warm
from vql.session.statements import build_macro, execute, function_from_file
from vql.settings import Settings
from vql.sql.parse import number_placeholders, parse, to_sql
from vql.udfs import builtin_functions


def convert_duckdb_error(error: BaseException) -> errors.Error:
    """DuckDB's error as VQL's, speaking of calls as the user wrote them."""
    return errors.from_duckdb(error, user_facing)


class Engine:
    """An open VQL database: its DuckDB connections, catalog, functions, settings, transaction."""

    def __init__(self, database: str = ":memory:", *, settings: Settings | None = None,
                 read_only: bool = False, autocommit: bool = True,
                 load_functions: bool = True):
        try:
            self.duck = duckdb.connect(database, read_only=read_only)
        except duckdb.Error as error:
            if is_lock_conflict(str(error)):
                raise lock_error(database, str(error), read_only) from error
            raise errors.OperationalError(f"cannot open database {database!r}: {error}") \
                from error
        # VQL reports progress itself (Connection.set_progress_handler); DuckDB's own bar would
        # print over results, and from batch-run workers.
        self.duck.execute("SET enable_progress_bar = false")
        geometry.register(self.duck)  # inside, crossings, dwell, entered: SQL over tracks
        self.database = database
        self.read_only, self.load_functions = read_only, load_functions
        self.settings = settings or Settings.from_env()
        self.catalog = Catalog(self.duck)
        if not read_only:
            self.catalog.ensure_schema()
        # A second connection to the same database for what belongs to no user transaction:
        # measured costs and accuracies, cached values, the history (vql/catalog/apart.py).
        self.side = self.duck.cursor()
        self.side.execute("SET enable_progress_bar = false")
        self.measurements = Catalog(self.side)
        cache_bytes = 0 if read_only else int(self.settings.cache_mb * 2**20)
        self.results = ResultCache(self.side, cache_bytes)
        self.registry = FunctionRegistry(builtin_functions())
        self.notices = self._load_stored_functions(load_functions)
        # where queries compute their frame functions (vql/session/runners.py); SET changes it
        self.runner = check_runner(self.settings.runner)
        self.ray_address = self.settings.ray_address
        self.optimizer = OptimizerOptions(reuse_results=self.results.enabled)
        self.autocommit = autocommit
        self.progress_handler: tuple[ProgressHandler, float] | None = None
        self.in_transaction = False
        self._history: list[tuple[str, float, float, str, str | None]] = []
        # Exact runs of pipelines with stateful functions, recorded by a first query with a
        # target: the next query of the pipeline scores real sampled runs against them
        # (vql/tune/observe.py). Keyed by (table, pipeline, content); a few at most.
        self.traces: dict[tuple[str, str, str], t.Any] = {}
        self._running = threading.Lock()  # held while a statement runs (see run)
        # What the layers below the session receive (vql/services.py), not the engine.
        self.services = Services(self.duck, self.catalog, self.measurements, self.registry,
                                 self.settings, self.results, self.atomic, self.traces)
        self._functions_at_begin: dict[str, t.Any] | None = None  # see begin

    def _load_stored_functions(self, files: bool = True) -> list[str]:
        """The database's functions. A file function runs its file (as CREATE FUNCTION did)
        only if the file is unchanged since it was created, and not at all with ``files``
        False (a database from someone else: its files are code)."""
        notices = []
        for stored in self.catalog.functions():
            try:
                if stored.kind == "file":
                    why = self._untrusted(stored) if files else "functions from files were " \
                        "not loaded (load_functions=False)"
                    if why:
                        notices.append(f"function {stored.name!r} was not loaded: {why}")
                        continue
                    self.registry.add(function_from_file(stored.name, stored.source))
                else:
                    self.registry.add(build_macro(stored.name, stored.params, stored.body))
            except errors.Error as error:
                notices.append(f"function {stored.name!r} could not be loaded: {error}")
        return notices

    # --- statements --------------------------------------------------------------------------

    def run(self, sql: str, params: Sequence[t.Any] = ()) -> Result:
        """Run every statement in ``sql``; the result of the last one is returned. A
        connection runs one statement at a time (PEP 249 threadsafety 1): a second thread
        calling in meanwhile gets a ProgrammingError, and the first one is not disturbed."""
        if not self._running.acquire(blocking=False):
            raise errors.ProgrammingError(
                "this connection is running a statement in another thread; give each thread "
                "its own connection (vql.threadsafety is 1)")
        try:
            return self._run(sql, params)
        finally:
            self._running.release()

    def _run(self, sql: str, params: Sequence[t.Any] = ()) -> Result:
        text, markers = number_placeholders(sql)
        params = tuple(params)
        if markers and markers != len(params):
            raise errors.ProgrammingError(
                f"the statement has {markers} parameter markers but {len(params)} "
                "parameters were given")
        try:
            trees = parse(text)
        except errors.Error as error:
            raise error.with_source(sql) from None
        except RecursionError:
            raise errors.ParseError("the statement is nested too deeply to parse",
                                    sql=sql) from None
        if not trees:
            raise errors.ProgrammingError("no statement to execute", sql=sql)
        result = Result()
        for tree in trees:
            if result.finish:
                result.finish()  # an earlier statement's rows are superseded
            result = self._run_one(tree, params, sql)
        return result

    def _run_one(self, tree: t.Any, params: tuple[t.Any, ...], sql: str) -> Result:
        started, clock = time.time(), time.perf_counter()
        text = ""
        try:
            text = to_sql(tree)
            self.flush_history()
            bound = Binder(self.catalog, self.registry, params).bind(tree)
            ahead, unused = warm(self, bound, text) if isinstance(bound, Query) else (None, None)
            if not isinstance(bound, Transaction):
                self._begin_implicit()
            result = execute(self, bound)
            result.runner = ahead
            if unused is not None:
                result.messages.append((errors.FallbackWarning, unused))
        except errors.Error as error:
            self.recover(error)
            self._history.append((text, started, time.perf_counter() - clock, "error", str(error)))
            raise error.with_source(sql) from error.__cause__
        except duckdb.Error as error:
            converted = convert_duckdb_error(error)
            self.recover(converted)
            self._history.append((text, started, time.perf_counter() - clock, "error",
                                  str(converted)))
            raise converted.with_source(sql) from error
        except (RecursionError, MemoryError) as error:
            converted = errors.ProgrammingError(
                f"the statement is too deeply nested or too large to run "
                f"({type(error).__name__})")
            self.recover(converted)
            self._history.append((text, started, time.perf_counter() - clock, "error",
                                  str(converted)))
            raise converted.with_source(sql) from error
        except Exception as error:
            # A bug of VQL's own: still one VQL error (PEP 249's InternalError) and a usable
            # connection, with the original kept as the cause.
            converted = errors.InternalError(f"{type(error).__name__}: {error}")
            self.recover(converted)
            self._history.append((text, started, time.perf_counter() - clock, "error",
                                  str(converted)))
            raise converted.with_source(sql) from error
        except BaseException:  # Ctrl-C: the statement stops, the connection stays usable
            self.recover()
            self._history.append((text, started, time.perf_counter() - clock, "interrupted",
                                  None))
            raise
        self._history.append((text, started, time.perf_counter() - clock, "ok", None))
        return result

    def recover(self, error: errors.Error | None = None) -> None:
        """After a statement failed or was interrupted: DuckDB aborts the transaction it ran
        in, so roll that back (and say so in ``error``) to keep the connection usable."""
        with contextlib.suppress(duckdb.Error):  # no result was pending
            self.duck.abort()
        if not self.in_transaction:
            return
        try:
            self.duck.execute("SELECT 1").fetchall()
        except duckdb.Error:
            self.rollback()
            if error is not None:
                error.message += " (the transaction was rolled back)"
                error.args = (error.message,)

    @staticmethod
    def _untrusted(stored: t.Any) -> str:
        """Why a function file may not run now ('' when it may)."""
        path = Path(stored.source)
        if not path.is_file():
            return f"its file {stored.source!r} is gone"
        if not stored.body.startswith("sha256:"):
            return ("it was created before VQL kept the hash of function files; run CREATE OR "
                    f"REPLACE FUNCTION {stored.name} FROM '{stored.source}' to trust the file")
        if file_hash(path) != stored.body:
            return (f"its file {stored.source!r} changed since CREATE FUNCTION; run CREATE OR "
                    f"REPLACE FUNCTION {stored.name} FROM '{stored.source}' to trust the new code")
        return ""

    # --- transactions ------------------------------------------------------------------------

    def _begin_implicit(self) -> None:
        if not self.autocommit and not self.in_transaction:
            self.begin()

    def begin(self) -> None:
        """Open an explicit transaction, keeping the functions so that a rollback restores them."""
        if self.in_transaction:
            raise errors.ProgrammingError("a transaction is already active")
        self.duck.execute("BEGIN TRANSACTION").fetchall()
        self.in_transaction = True
        # CREATE/DROP FUNCTION change the registry too: a rollback puts it back as it was
        self._functions_at_begin = self.registry.snapshot()

    def commit(self) -> None:
        """Write the history and commit the open transaction; a conflict rolls it back, raising."""
        self.flush_history()
        if self.in_transaction:
            try:
                self.duck.execute("COMMIT").fetchall()
            except duckdb.Error as error:  # a conflict at commit: DuckDB rolled it back
                self.rollback()
                raise convert_duckdb_error(error) from error
            self.in_transaction = False
            self._functions_at_begin = None

    def rollback(self) -> None:
        """Roll back the open transaction and put back the functions it began with."""
        if self.in_transaction:
            self.in_transaction = False
            if self._functions_at_begin is not None:
                self.registry.restore(self._functions_at_begin)
                self._functions_at_begin = None
            with contextlib.suppress(duckdb.TransactionException):  # already ended
                self.duck.execute("ROLLBACK").fetchall()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Several catalog writes as one: inside the current transaction, or in their own."""
        if self.in_transaction:
            yield
            return
        self.duck.execute("BEGIN TRANSACTION").fetchall()
        try:
            yield
        except BaseException:
            self.duck.execute("ROLLBACK").fetchall()
            raise
        self.duck.execute("COMMIT").fetchall()

    def flush_history(self) -> None:
        """Write finished statements to vql.query_history, and function values computed by
        finished queries to the result cache, each committed apart from the user's
        transaction (so a ROLLBACK keeps them); best effort: a read-only database keeps none."""
        self.results.flush()
        if self._history:
            entries, self._history = self._history, []
            self.measurements.apart(lambda: self.measurements.record_queries(entries))

    def close(self) -> None:
        """Stop what runs, keep the history, roll back, and close both DuckDB connections."""
        with contextlib.suppress(duckdb.Error):  # nothing was pending
            self.duck.abort()
        # what the last queries learned and computed is kept, whatever happens to the
        # user's transaction
        with contextlib.suppress(errors.Error, duckdb.Error):
            self.flush_history()
        self.rollback()
        self.side.close()
        self.duck.close()
