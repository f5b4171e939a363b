"""Per-operator measurements for EXPLAIN ANALYZE: every physical operator is wrapped in a
``Measured`` operator that times its batches (time inclusive of its inputs) and counts its rows;
an operator's own time is its inclusive time less its inputs'."""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from vql.exec.context import ExecContext, OperatorStats, QueryStats
from vql.exec.operators import DecodeOp

if t.TYPE_CHECKING:
    from vql.exec.operators import Operator


@dataclass
class Measured:
    """A transparent wrapper: same schema, description and children as ``inner``."""

    inner: Operator
    index: int

    @property
    def schema(self) -> pa.Schema:
        """The wrapped operator's schema."""
        return self.inner.schema

    @property
    def children(self) -> tuple[Operator, ...]:
        """The wrapped operator's inputs (each wrapped itself)."""
        return self.inner.children

    def describe(self) -> str:
        """The wrapped operator's description."""
        return self.inner.describe()

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The wrapped operator's batches, timing each pull and counting its rows."""
        stats = ctx.stats.operators.setdefault(self.index, OperatorStats(self.describe()))
        stream = self.inner.batches(ctx)
        while True:
            started = time.perf_counter()
            try:
                batch = next(stream)
            except StopIteration:
                stats.seconds += time.perf_counter() - started
                return
            stats.seconds += time.perf_counter() - started
            stats.rows_out += batch.num_rows
            yield batch



def unwrap(op: t.Any) -> t.Any:
    """The operator inside a ``Measured`` wrapper, or ``op`` itself."""
    return op.inner if isinstance(op, Measured) else op


def walk(op: t.Any) -> Iterator[t.Any]:
    """``op`` and every operator below it, unwrapped."""
    yield unwrap(op)
    for kid in op.children:
        yield from walk(kid)


def operator_lines(stats: QueryStats, operators: t.Sequence[t.Any],
                   estimates: dict[str, float]) -> list[str]:
    """One line per operator, as a tree: estimated seconds (decoding and functions, from the
    cost model), actual own seconds, rows in and out, and the pass rate where rows are dropped."""
    lines: list[str] = []

    def seconds_of(op: t.Any) -> float:
        found = stats.operators.get(op.index) if isinstance(op, Measured) else None
        return found.seconds if found else 0.0

    def rows_of(op: t.Any) -> int:
        found = stats.operators.get(op.index) if isinstance(op, Measured) else None
        return found.rows_out if found else 0

    def visit(op: t.Any, depth: int) -> None:
        inner = unwrap(op)
        kids = list(op.children)
        own = seconds_of(op) - sum(seconds_of(k) for k in kids)
        rows_in = sum(rows_of(k) for k in kids)
        key = "decode" if isinstance(inner, DecodeOp) else \
            getattr(getattr(inner, "call", None), "column", None)
        estimated = estimates.get(key) if key else None
        est = f"{estimated:.3f} s" if estimated is not None else "-"
        rate = ""
        if kids and rows_in and rows_of(op) != rows_in:
            rate = f" | {rows_of(op) / rows_in:.1%}"
        lines.append(f"{'  ' * depth}{op.describe()} | {est} | {max(own, 0.0):.3f} s | "
                     f"{rows_in} -> {rows_of(op)}{rate}")
        for kid in kids:
            visit(kid, depth + 1)

    for op in operators:
        visit(op, 0)
    return lines
