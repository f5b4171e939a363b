"""PEP 249 cursor. Results stream: rows are read from the engine batch by batch as they are
fetched, so a query over a long video never holds its whole result in memory."""

from __future__ import annotations

import typing as t
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa

from vql import errors
from vql.bind.names import user_facing
from vql.exec.context import QueryStats
from vql.exec.continuous import StreamStats
from vql.exec.result import Description, Result, RunnerReport

if t.TYPE_CHECKING:
    from vql.api.connection import Connection
    from vql.tune.tuner import Tuning


class Cursor:
    """Executes statements and fetches their rows (PEP 249), plus DuckDB-style Arrow fetches."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.arraysize = 1
        self.messages: list[tuple[type, str]] = []
        self.lastrowid = None
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        self.description: Description | None = None
        self.rowcount = -1
        self.stats: QueryStats | None = None
        self.tuning: Tuning | None = None
        self.streams: dict[str, StreamStats] | None = None  # a live query's, by table
        # what the session's runner computed before the query ran here (None: local)
        self.runner: RunnerReport | None = None
        self._result: Result | None = None
        self._batches: Iterator[pa.RecordBatch] | None = None
        self._held: deque[pa.RecordBatch] = deque()  # batches read ahead (after a drain)
        self._current: pa.RecordBatch | None = None
        self._rows: list[tuple[t.Any, ...]] = []
        self._position = 0
        self._has_rows = False

    @property
    def estimated_accuracy(self) -> float | None:
        """The estimated accuracy of the last query's result against its exact plan: 1.0 for
        an exact plan, None when a lossy plan's accuracy was not profiled or no query ran.
        Under a LATENCY target it covers what has run so far (final once the rows are read)."""
        if self.tuning is None:
            return 1.0 if self.stats is not None else None
        if not self.tuning.lossy:
            return 1.0
        return self.tuning.estimated_accuracy()

    # --- executing ---------------------------------------------------------------------------

    def execute(self, operation: str, parameters: Sequence[t.Any] | None = None) -> Cursor:
        """Run ``operation`` with qmark (``?``) parameters bound, never spliced into the text."""
        self._check_open()
        if not isinstance(operation, str):
            raise errors.ProgrammingError("the operation must be a string of SQL")
        params = _parameters(parameters)
        self.connection._before_statement(self)
        self._finish()
        self._reset()
        self.messages.clear()
        result = self.connection._engine.run(operation, params)
        self._accept(result)
        return self

    def executemany(self, operation: str, seq_of_parameters: t.Iterable[Sequence[t.Any]]) -> Cursor:
        """Run ``operation`` once per parameter sequence; ``rowcount`` is the total (-1 when
        no statement counted rows), and no rows are left to fetch."""
        total = 0
        counted = False
        for parameters in seq_of_parameters:
            self.execute(operation, parameters)
            if self.rowcount >= 0:
                total += self.rowcount
                counted = True
        self._finish()
        self._reset()
        self.rowcount = total if counted else -1
        return self

    def _accept(self, result: Result) -> None:
        self._result = result
        self.description = result.description
        self.rowcount = result.rowcount
        self.stats = result.stats
        self.tuning = result.tuning
        self.streams = result.live
        self.runner = result.runner
        self._has_rows = result.reader is not None
        self._batches = iter(result.reader) if result.reader is not None else None
        for message in result.messages:
            category, text = message if isinstance(message, tuple) else (
                errors.TargetNotOptimizedWarning, message)
            self.messages.append((category, text))
            warnings.warn(text, t.cast(type[UserWarning], category), stacklevel=3)
        if self._has_rows:
            self.connection._set_active(self)

    # --- streaming and draining --------------------------------------------------------------

    def _next_batch(self) -> pa.RecordBatch | None:
        if self._held:
            return self._held.popleft()
        return self._pull()

    def _pull(self) -> pa.RecordBatch | None:
        """The next batch from the engine's stream; None (and the result released) at its end."""
        if self._batches is None:
            return None
        try:
            return next(self._batches)
        except StopIteration:
            self._finish()
            return None
        except BaseException as error:  # a failure or Ctrl-C while rows stream
            self._finish()
            converted = error if isinstance(error, errors.Error) or not isinstance(
                error, Exception) else errors.from_duckdb(error, user_facing)
            self.connection._engine.recover(converted if isinstance(converted, errors.Error)
                                            else None)
            if converted is error:
                raise
            raise converted from error

    def _drain(self) -> None:
        """Read every remaining batch into memory so that the connection can run another
        statement (DuckDB runs one statement at a time per connection). A query over a live
        table never ends: it is stopped instead, its unread rows dropped (as DuckDB's next
        statement drops the previous result)."""
        if self._result is not None and self._result.live is not None:
            self._finish()
            return
        while (batch := self._pull()) is not None:
            self._held.append(batch)

    def _finish(self) -> None:
        self._batches = None
        if self._result is not None and self._result.finish is not None:
            finish, self._result.finish = self._result.finish, None
            finish()
            # keep what the query computed and learned now, not when the next statement
            # runs: a script may end without close()
            self.connection._engine.flush_history()
        self.connection._clear_active(self)

    def _load_rows(self) -> bool:
        while self._position >= len(self._rows):
            batch = self._next_batch()
            if batch is None:
                self._current, self._rows, self._position = None, [], 0
                return False
            self._current = batch
            columns = [column.to_pylist() for column in batch.columns]
            for index in self._huge_columns():  # int, as DuckDB's and sqlite3's APIs give
                columns[index] = [None if v is None else int(v) for v in columns[index]]
            self._rows = list(zip(*columns)) if columns else [()] * batch.num_rows
            self._position = 0
        return True

    # --- fetching ----------------------------------------------------------------------------

    def _check_rows(self) -> None:
        self._check_open()
        if not self._has_rows:
            raise errors.ProgrammingError("no result set: execute a query that returns rows "
                                          "first")

    def fetchone(self) -> tuple[t.Any, ...] | None:
        """The next row of the result as a tuple, or None when every row has been read."""
        self._check_rows()
        if not self._load_rows():
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple[t.Any, ...]]:
        """The next ``size`` rows (default ``arraysize``); fewer, or none, at the end."""
        self._check_rows()
        size = self.arraysize if size is None else size
        rows: list[tuple[t.Any, ...]] = []
        while len(rows) < size and self._load_rows():
            take = self._rows[self._position:self._position + size - len(rows)]
            rows.extend(take)
            self._position += len(take)
        return rows

    def fetchall(self) -> list[tuple[t.Any, ...]]:
        """Every row of the result not read yet, as a list of tuples."""
        self._check_rows()
        rows: list[tuple[t.Any, ...]] = []
        while self._load_rows():
            rows.extend(self._rows[self._position:])
            self._position = len(self._rows)
        return rows

    def fetch_record_batches(self, rows_per_batch: int = 1_000_000) -> pa.RecordBatchReader:
        """The remaining rows as a streaming Arrow reader."""
        self._check_rows()
        schema = self._schema()

        def remaining() -> Iterator[pa.RecordBatch]:
            if self._current is not None and self._position < self._current.num_rows:
                rest = self._current.slice(self._position)
                self._position = len(self._rows)
                yield from rest.to_batches(max_chunksize=rows_per_batch) if isinstance(
                    rest, pa.Table) else [rest]
            while (batch := self._next_batch()) is not None:
                yield batch

        return pa.RecordBatchReader.from_batches(schema, remaining())

    def fetch_arrow_table(self) -> pa.Table:
        """The remaining rows as an Arrow table."""
        reader = self.fetch_record_batches()
        return reader.read_all()

    def fetchdf(self) -> t.Any:
        """The remaining rows as a pandas DataFrame (needs pandas: pip install 'vql[pandas]')."""
        try:
            import pandas  # noqa: F401
        except ImportError as error:
            raise errors.MissingDependencyError(
                "fetchdf needs pandas: pip install 'vql[pandas]'") from error
        table = self.fetch_arrow_table()
        for index in self._huge_columns():
            # an integer column (int64 when every value fits, else float64 as DuckDB's df()
            # gives), not an object column of Decimals
            try:
                column = table.column(index).cast(pa.int64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = table.column(index).cast(pa.float64())
            table = table.set_column(index, table.field(index).with_type(column.type), column)
        return table.to_pandas()

    def df(self) -> t.Any:
        """``fetchdf`` under DuckDB's name."""
        return self.fetchdf()

    def arrow(self) -> pa.Table:
        """``fetch_arrow_table`` under DuckDB's name."""
        return self.fetch_arrow_table()

    def _huge_columns(self) -> list[int]:
        """Columns of DuckDB's 128-bit integers (sum() of integers), which reach Arrow as
        decimal128(38, 0) and Python as Decimal."""
        return [i for i, column in enumerate(self.description or ())
                if column[1] in ("HUGEINT", "UHUGEINT")]

    def _schema(self) -> pa.Schema:
        if self._current is not None:
            return self._current.schema
        if self._held:
            return self._held[0].schema
        if self._result is not None and self._result.reader is not None:
            return self._result.reader.schema
        return pa.schema([])

    # --- the rest of PEP 249 -----------------------------------------------------------------

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> tuple[t.Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def next(self) -> tuple[t.Any, ...]:
        """The next row; StopIteration at the end (PEP 249's optional ``next``)."""
        return self.__next__()

    def setinputsizes(self, sizes: t.Any) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def setoutputsize(self, size: t.Any, column: int | None = None) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def close(self) -> None:
        """Close the cursor; later operations on it raise InterfaceError."""
        if self._closed:
            raise errors.InterfaceError("the cursor is already closed")
        self._release()

    def _release(self) -> None:
        if not self._closed:
            self._finish()
            self._reset()
            self._closed = True

    @property
    def closed(self) -> bool:
        """Whether the cursor is closed (by ``close()``, its ``with`` block or its connection)."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise errors.InterfaceError("the cursor is closed")
        self.connection._check_open()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._release()


def _parameters(parameters: Sequence[t.Any] | None) -> tuple[t.Any, ...]:
    if parameters is None:
        return ()
    if isinstance(parameters, Mapping):
        raise errors.ProgrammingError("VQL's paramstyle is qmark: pass parameters as a sequence")
    if isinstance(parameters, str | bytes):
        raise errors.ProgrammingError("parameters must be a sequence of values, not a string")
    return tuple(parameters)
