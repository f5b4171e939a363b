"""A pipeline's failure, surfaced as itself: DuckDB turns a Python exception raised inside its
scan of an Arrow stream into a generic error, so the pipeline remembers its first failure."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from vql.exec.context import ExecContext
from vql.exec.operators import Operator


def guarded(op: Operator, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
    """The pipeline's batches; remembers the first failure, since DuckDB turns a Python
    exception raised inside its scan into a generic error."""
    try:
        yield from op.batches(ctx)
    except GeneratorExit:  # closed by its reader (unregistered, or not read to the end)
        raise
    except BaseException as error:
        if ctx.failure is None:
            ctx.failure = error
        raise


def translate(error: BaseException, ctx: ExecContext | None) -> BaseException:
    """The error to raise: the pipeline's own failure if it caused DuckDB's error."""
    if ctx is not None and ctx.failure is not None and ctx.failure is not error:
        return ctx.failure
    return error
