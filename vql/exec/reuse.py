"""The result cache's operator: serve cached function values, compute only the rest."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vql.catalog.results import Cached, ResultCache
from vql.exec.context import ExecContext
from vql.exec.operators import SectionOp, damaged_below
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
    # Batches of misses pushed into the section ahead of the one being merged, so that a
    # section that decodes in a background thread (PrefetchOp) has the next batch to work on
    # while the functions run on this one. 0 when the child is itself a section's feed, which
    # hands out one batch per output it is waiting for.
    lookahead: int = 0
    # video_id -> frames, where a function is stateful: its values are served only for a
    # video the cache holds whole (they were computed over every frame in order); any other
    # video is computed whole, from its first frame.
    whole: dict[int, int] | None = None
    _looked_again: set[str] = field(default_factory=set)  # contents checked for staged values

    @property
    def added(self) -> tuple[str, ...]:
        """A column per cached function call (``calls``)."""
        return tuple(call.column for call in self.calls)

    def describe(self) -> str:
        """The columns reused, how many values the cache holds, and that the rest is computed."""
        held = sum(len(c.frame_ids) for by_content in self.cached.values()
                   for c in by_content.values())
        whole = " (whole videos only: a stateful function)" if self.whole is not None else ""
        return (f"Reuse cached {', '.join(c.column for c in self.calls)} ({held} values held "
                f"for this table{whole}); decode and compute the other frames, and cache them")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows with every function column: cached where held, else computed."""
        waiting: deque[_Pending] = deque()
        with self.running(ctx) as section:
            for batch in self.child.batches(ctx):
                waiting.append(self._look_up(batch, ctx))
                if len(waiting) > self.lookahead:
                    yield self._merge(waiting.popleft(), section, ctx)
            while waiting:
                yield self._merge(waiting.popleft(), section, ctx)

    def _look_up(self, batch: pa.RecordBatch, ctx: ExecContext) -> _Pending:
        """Find the batch's rows in the cache; push the others into the section."""
        if batch.num_rows == 0:
            return _Pending(batch, "", np.empty(0, dtype=np.int64), [], np.zeros(0, bool))
        video = int(batch.column("video_id")[0].as_py())
        content = self.contents[video]
        if self.whole is not None and content not in self._looked_again:
            self._take_staged(content, self.whole[video])
        frame_ids = batch.column("frame_id").to_numpy()
        hits, where = [], []
        for call in self.calls:
            cached = self.cached.get(call.cache_key(), {}).get(content)
            hit, at = cached.lookup(frame_ids) if cached is not None else (
                np.zeros(len(frame_ids), dtype=bool), np.empty(0, dtype=np.int64))
            hits.append(hit)
            where.append(at)
        served = np.logical_and.reduce(hits)
        if self.whole is not None and not self._held_whole(content, self.whole[
                int(batch.column("video_id")[0].as_py())]):
            served[:] = False
        ctx.stats.frames_reused += int(served.sum())
        if not served.all():
            self.feed.push(batch.filter(pa.array(~served)))
        # For each call, where each served row's value is among its cached values.
        at_served = [at[served[hit]] for hit, at in zip(hits, where)]
        return _Pending(batch, content, frame_ids, at_served, served)

    def _take_staged(self, content: str, frames: int) -> None:
        """At a video's first batch, a stateful call's values that another pipeline of this
        query computed over the whole video (``tracks(t)`` in a subquery, ``track(frame)``
        outside it): served instead of tracking the video twice."""
        self._looked_again.add(content)
        if self._held_whole(content, frames):
            return
        found = {call.cache_key(): self.cache.staged(call.cache_key(), content, self.scale)
                 for call in self.calls}
        if all(c is not None and len(c.frame_ids) >= frames for c in found.values()):
            for key, values in found.items():
                assert values is not None
                self.cached.setdefault(key, {})[content] = values

    def _held_whole(self, content: str, frames: int) -> bool:
        """Whether the cache holds every call's values for all ``frames`` of a video."""
        for call in self.calls:
            cached = self.cached.get(call.cache_key(), {}).get(content)
            if cached is None or len(cached.frame_ids) < frames:
                return False
        return True

    def _merge(self, pending: _Pending, section: Generator[pa.RecordBatch, None, None],
               ctx: ExecContext) -> pa.RecordBatch:
        """The batch with every function column: cached values and the section's, in order."""
        batch, served = pending.batch, pending.served
        if batch.num_rows == 0:
            return pa.RecordBatch.from_pylist([], schema=self.schema)
        missing = ~served
        computed = next(section) if missing.any() else None
        order = np.concatenate([np.flatnonzero(served), np.flatnonzero(missing)])
        inverse = pa.array(np.argsort(order, kind="stable"))
        out = batch
        for call, at in zip(self.calls, pending.at_served):
            field_ = self.section.schema.field(call.column)
            parts = []
            if served.any():
                cached = self.cached[call.cache_key()][pending.content]
                parts.append(cached.values.take(pa.array(at)).cast(field_.type))
            if computed is not None:
                values = computed.column(call.column)
                parts.append(values)
                self._stage(call, field_.type, pending, values, ctx)
            column = pa.concat_arrays(parts) if len(parts) > 1 else parts[0]
            out = out.append_column(field_, column.take(inverse))
        return out


    def _stage(self, call: UDFCall, value_type: pa.DataType, pending: _Pending,
               values: pa.Array, ctx: ExecContext) -> None:
        """Cache the computed values, less those of frames that could not be decoded (they
        were computed on a stand-in frame)."""
        frame_ids = pending.frame_ids[~pending.served]
        lost = damaged_below(self.section, ctx).get(pending.batch.column("path")[0].as_py())
        if lost:
            keep = ~np.isin(frame_ids, np.array(list(lost), dtype=np.int64))
            frame_ids, values = frame_ids[keep], values.filter(pa.array(keep))
        self.cache.stage(call.cache_key(), call.function, value_type, pending.content,
                         self.scale, frame_ids, values)


@dataclass(frozen=True, slots=True)
class _Pending:
    batch: pa.RecordBatch
    content: str
    frame_ids: np.ndarray
    at_served: list[np.ndarray]
    served: np.ndarray
