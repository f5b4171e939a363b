"""The result cache's operator: serve cached function values, compute only the rest."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vql.catalog.results import Cached, CacheReader, ResultCache
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
    held: int                              # values cached for this table when planned
    # Batches of misses pushed into the section ahead of the one being merged, so that a
    # section that decodes in a background thread (PrefetchOp) has the next batch to work on
    # while the functions run on this one. 0 when the child is itself a section's feed, which
    # hands out one batch per output it is waiting for.
    lookahead: int = 0

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(call.column for call in self.calls)

    # The video being read: its content and each function's cached values (None: none).
    _video: tuple[str, dict[str, Cached | None]] | None = field(default=None, repr=False)
    _reader: CacheReader | None = field(default=None, repr=False)

    def describe(self) -> str:
        return (f"Reuse cached {', '.join(c.column for c in self.calls)} ({self.held} values "
                f"held for this table, read per video); decode and compute the other frames, "
                f"and cache them")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        waiting: deque[_Pending] = deque()
        self._reader, self._video = self.cache.reader(), None
        try:
            with self.running(ctx) as section:
                for batch in self.child.batches(ctx):
                    waiting.append(self._look_up(batch, ctx))
                    if len(waiting) > self.lookahead:
                        yield self._merge(waiting.popleft(), section)
                while waiting:
                    yield self._merge(waiting.popleft(), section)
        finally:
            self._reader.close()
            self._reader, self._video = None, None

    def _values(self, content: str) -> dict[str, Cached | None]:
        """Each function's cached values for one video, read when the query reaches it."""
        if self._video is None or self._video[0] != content:
            assert self._reader is not None
            self._video = (content, {call.cache_key(): self._reader.load(
                call.cache_key(), content, self.scale) for call in self.calls})
        return self._video[1]

    def _look_up(self, batch: pa.RecordBatch, ctx: ExecContext) -> _Pending:
        """Find the batch's rows in the cache; push the others into the section."""
        if batch.num_rows == 0:
            return _Pending(batch, "", np.empty(0, dtype=np.int64), [], np.zeros(0, bool), [])
        content = self.contents[int(batch.column("video_id")[0].as_py())]
        frame_ids = batch.column("frame_id").to_numpy()
        hits, where = [], []
        values = [self._values(content)[call.cache_key()] for call in self.calls]
        for cached in values:
            hit, at = cached.lookup(frame_ids) if cached is not None else (
                np.zeros(len(frame_ids), dtype=bool), np.empty(0, dtype=np.int64))
            hits.append(hit)
            where.append(at)
        served = np.logical_and.reduce(hits)
        ctx.stats.frames_reused += int(served.sum())
        if not served.all():
            self.feed.push(batch.filter(pa.array(~served)))
        # For each call, where each served row's value is among its cached values.
        at_served = [at[served[hit]] for hit, at in zip(hits, where)]
        return _Pending(batch, content, frame_ids, at_served, served, values)

    def _merge(self, pending: _Pending, section: Generator[pa.RecordBatch, None, None]
               ) -> pa.RecordBatch:
        """The batch with every function column: cached values and the section's, in order."""
        batch, served = pending.batch, pending.served
        if batch.num_rows == 0:
            return pa.RecordBatch.from_pylist([], schema=self.schema)
        missing = ~served
        computed = next(section) if missing.any() else None
        order = np.concatenate([np.flatnonzero(served), np.flatnonzero(missing)])
        inverse = pa.array(np.argsort(order, kind="stable"))
        out = batch
        for call, at, cached in zip(self.calls, pending.at_served, pending.values):
            field_ = self.section.schema.field(call.column)
            parts = []
            if served.any():
                assert cached is not None  # rows are served only from values that exist
                parts.append(cached.values.take(pa.array(at)).cast(field_.type))
            if computed is not None:
                values = computed.column(call.column)
                parts.append(values)
                self.cache.stage(call.cache_key(), call.function, field_.type, pending.content,
                                 self.scale, pending.frame_ids[missing], values)
            column = pa.concat_arrays(parts) if len(parts) > 1 else parts[0]
            out = out.append_column(field_, column.take(inverse))
        return out


@dataclass(frozen=True, slots=True)
class _Pending:
    batch: pa.RecordBatch
    content: str
    frame_ids: np.ndarray
    at_served: list[np.ndarray]
    served: np.ndarray
    values: list[Cached | None]  # each function's cached values for the batch's video
