"""The result cache's operator: serve cached function values, compute only the rest."""

from __future__ import annotations

import typing as t
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from vql.catalog.results import Cached, ResultCache
from vql.exec.context import ExecContext
from vql.exec.operators import SectionOp
from vql.plan.nodes import UDFCall


@dataclass
class ReuseOp(SectionOp):
    """For each batch of frame rows from ``child`` (no pixels yet): rows whose every function
    value is in the cache take them from there; the others go through ``section`` (decoding
    and the functions, fed by ``feed``, one batch out per batch in), and what it computes is
    staged for the cache. Rows keep their order."""

    calls: tuple[UDFCall, ...]
    cache: ResultCache
    contents: dict[int, str]               # video_id -> content hash
    scale: float
    cached: dict[str, dict[str, Cached]]   # cache key -> content -> values (read at planning)

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(call.column for call in self.calls)

    def describe(self) -> str:
        held = sum(len(c.frame_ids) for by_content in self.cached.values()
                   for c in by_content.values())
        return (f"Reuse cached {', '.join(c.column for c in self.calls)} ({held} values held "
                f"for this table); decode and compute the other frames, and cache them")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        section = t.cast(Generator[pa.RecordBatch, None, None], self.section.batches(ctx))
        try:
            for batch in self.child.batches(ctx):
                yield self._serve(batch, section, ctx)
        finally:
            section.close()

    def _serve(self, batch: pa.RecordBatch, section: Generator[pa.RecordBatch, None, None],
               ctx: ExecContext) -> pa.RecordBatch:
        if batch.num_rows == 0:
            return pa.RecordBatch.from_pylist([], schema=self.schema)
        content = self.contents[int(batch.column("video_id")[0].as_py())]
        frame_ids = batch.column("frame_id").to_numpy()
        hits, where = [], []
        for call in self.calls:
            cached = self.cached.get(call.cache_key(), {}).get(content)
            hit, at = cached.lookup(frame_ids) if cached is not None else (
                np.zeros(len(frame_ids), dtype=bool), np.empty(0, dtype=np.int64))
            hits.append(hit)
            where.append(at)
        served = np.logical_and.reduce(hits)
        missing = ~served
        ctx.stats.frames_reused += int(served.sum())
        computed: pa.RecordBatch | None = None
        if missing.any():
            self.feed.pending.append(batch.filter(pa.array(missing)))
            computed = next(section)
        out = batch
        order = np.concatenate([np.flatnonzero(served), np.flatnonzero(missing)])
        inverse = pa.array(np.argsort(order, kind="stable"))
        for call, hit, at in zip(self.calls, hits, where):
            field_ = self.section.schema.field(call.column)
            parts = []
            if served.any():
                cached = self.cached[call.cache_key()][content]
                parts.append(cached.values.take(pa.array(at[served[hit]])).cast(field_.type))
            if computed is not None:
                values = computed.column(call.column)
                parts.append(values)
                self.cache.stage(call.cache_key(), call.function, field_.type, content,
                                 self.scale, frame_ids[missing], values)
            column = pa.concat_arrays(parts) if len(parts) > 1 else parts[0]
            out = out.append_column(field_, column.take(inverse))
        return out
