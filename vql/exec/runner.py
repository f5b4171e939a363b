"""The one place pipelines run: each pipeline is registered with DuckDB as an Arrow stream
under its output view's name, SQL runs over them, a pipeline's own failure surfaces as itself
(DuckDB wraps it in an error that only names the stream), and at the end every stream is
closed and every view unregistered. Queries (``vql.session.query``) and accuracy profiling
on clips (``vql.tune.clips``) both run through it."""

from __future__ import annotations

import contextlib
import typing as t
import warnings
from collections.abc import Iterator, Sequence

import duckdb
import pyarrow as pa

from vql.errors import Error, InternalError
from vql.exec import operators as ops
from vql.exec.context import ExecContext
from vql.exec.failures import guarded, translate
from vql.exec.profile import unwrap


class PipelineRun:
    """Pipelines registered on ``duck`` for one statement, with ``ctx`` collecting their
    statistics and first failure. ``close()`` (always, in a ``finally``) releases them."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, ctx: ExecContext):
        self.duck, self.ctx = duck, ctx
        self._views: list[str] = []
        self._streams: list[pa.RecordBatchReader] = []

    def register(self, operators: Sequence[ops.Operator]) -> None:
        """Register each pipeline as the Arrow stream its SQL reads (its output view)."""
        for op in operators:
            project = unwrap(op)
            if not isinstance(project, ops.ProjectOp):
                raise InternalError(f"a pipeline must end in an output view, not {op.describe()}")
            reader = pa.RecordBatchReader.from_batches(op.schema, guarded(op, self.ctx))
            self.duck.register(project.view, reader)
            self._views.append(project.view)

    def execute(self, sql: str, params: Sequence[t.Any] = ()) -> None:
        """Run ``sql`` with ``params`` on DuckDB, over the registered pipelines."""
        self.duck.execute(sql, list(params))

    def description(self) -> tuple[tuple[t.Any, ...], ...]:
        """PEP 249's description of the SQL's result."""
        return tuple((d[0], str(d[1]), None, None, None, None, None)
                     for d in self.duck.description or ())

    def stream(self, rows_per_batch: int) -> pa.RecordBatchReader:
        """The result as a stream of batches; a pipeline's failure met while it is read is
        raised as itself. Closed by ``close()``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DuckDB notes the copy into Arrow; it is needed
            stream = self.duck.to_arrow_reader(rows_per_batch)
        if stream is None:  # a statement without a result
            return pa.RecordBatchReader.from_batches(pa.schema([]), iter(()))
        self._streams.append(stream)
        return pa.RecordBatchReader.from_batches(stream.schema, self._translating(stream))

    def translated(self, error: BaseException) -> BaseException:
        """What to raise for ``error``: the pipeline's own failure if it caused it."""
        return translate(error, self.ctx)

    def raise_translated(self, error: BaseException) -> t.NoReturn:
        """Raise ``error``, or the pipeline failure behind it with its own traceback."""
        raised = self.translated(error)
        if raised is error:
            raise error
        # the pipeline's own failure, with its own traceback and cause: DuckDB's wrapper of it
        # only names internal streams
        raise raised from raised.__cause__

    def close(self) -> None:
        """Close the streams (a result not read to its end holds the connection until then:
        DuckDB's abort does not release it), abort what is pending, unregister the views."""
        for stream in self._streams:
            stream.close()
        self._streams.clear()
        with contextlib.suppress(duckdb.Error):  # nothing was pending
            self.duck.abort()
        for view in self._views:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction dropped it
                self.duck.unregister(view)
        self._views.clear()
        self.ctx.close()

    def _translating(self, stream: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        try:
            yield from stream
        except Error:
            raise
        except BaseException as error:
            self.raise_translated(error)
