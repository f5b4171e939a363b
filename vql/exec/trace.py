"""A trace of the exact plan: every frame's function values (and a thumbnail) as the exact run
computed them, and the operators that replay it in place of decoding and computing.

The tuner records a trace when it profiles a pipeline from its exact run (``vql.physical.
observe``): the query's answer and every sampling-rate and cascade configuration are then run
over the trace by the plan's own Fill, DiffGate, Filter and Limit operators, with a lookup
where the plan decodes and computes. For stateless functions a replayed configuration gives
exactly what a real run of it gives (tested); a stateful function in a real sampled run sees
only the processed frames, so its replay is an estimate.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vql.errors import InternalError
from vql.exec.context import ExecContext
from vql.exec.operators import (
    FRAME_FIELD,
    THUMB_FIELD,
    Operator,
    UnaryOp,
    _video_id,
    small_grey,
)


@dataclass
class _VideoTrace:
    frame_ids: list[np.ndarray] = field(default_factory=list)
    values: list[pa.RecordBatch] = field(default_factory=list)
    thumbs: list[np.ndarray] = field(default_factory=list)
    table: pa.Table | None = None
    ids: np.ndarray | None = None
    thumb: np.ndarray | None = None


class Trace:
    """Function values by (video, frame), in the order the exact run produced them."""

    def __init__(self, columns: tuple[str, ...], thumbnails: bool = True):
        self.columns = columns
        # kept for a cascade's replay; false too once a frame came without pixels (the result
        # cache served its values)
        self.has_thumbnails = thumbnails
        self.frames = 0
        self.seconds = 0.0          # what recording it took
        self.frames_decoded = 0
        self._videos: dict[int, _VideoTrace] = {}

    def add(self, batch: pa.RecordBatch) -> None:
        """Keep a batch of the exact pipeline (after its last function)."""
        if batch.num_rows == 0:
            return
        video = self._videos.setdefault(_video_id(batch), _VideoTrace())
        video.frame_ids.append(batch.column("frame_id").to_numpy())
        video.values.append(pa.record_batch([batch.column(c) for c in self.columns],
                                            names=list(self.columns)))
        if FRAME_FIELD in batch.schema.names and self.has_thumbnails:
            frames = batch.column(FRAME_FIELD).to_numpy_ndarray()
            video.thumbs.append(np.stack([small_grey(f) for f in frames]))
        else:
            self.has_thumbnails = False
        self.frames += batch.num_rows

    def seal(self) -> None:
        """Done recording: index each video's frames."""
        for video in self._videos.values():
            video.ids = np.concatenate(video.frame_ids)
            video.table = pa.Table.from_batches(video.values).combine_chunks()
            if self.has_thumbnails:
                video.thumb = np.concatenate(video.thumbs)
            video.frame_ids, video.values, video.thumbs = [], [], []
            if (np.diff(video.ids) <= 0).any():
                raise InternalError("a trace's frames must come in order")

    def _rows(self, batch: pa.RecordBatch) -> tuple[_VideoTrace, np.ndarray]:
        video = self._videos.get(_video_id(batch))
        wanted = batch.column("frame_id").to_numpy()
        if video is None or video.ids is None:
            raise InternalError(f"the trace has no frames of video {_video_id(batch)}")
        rows = np.searchsorted(video.ids, wanted)
        if (rows >= len(video.ids)).any() or (video.ids[rows.clip(0, len(video.ids) - 1)]
                                              != wanted).any():
            raise InternalError("a replayed plan asked for a frame the exact run did not reach")
        return video, rows

    def values(self, batch: pa.RecordBatch, column: str) -> pa.Array:
        """The recorded ``column`` values of the batch's frames, in its row order."""
        video, rows = self._rows(batch)
        assert video.table is not None
        return video.table.column(column).take(pa.array(rows)).combine_chunks()

    def thumbnails(self, batch: pa.RecordBatch) -> np.ndarray:
        """The recorded grey thumbnails (36 x 64 uint8) of the batch's frames."""
        video, rows = self._rows(batch)
        assert video.thumb is not None
        return t.cast(np.ndarray, video.thumb[rows])

    def ranges(self) -> dict[int, list[tuple[int, int]]]:
        """The frames recorded, as frame ranges per video (for a scan of just those)."""
        out: dict[int, list[tuple[int, int]]] = {}
        for video_id, video in self._videos.items():
            assert video.ids is not None
            ids = video.ids
            breaks = np.nonzero(np.diff(ids) != 1)[0]
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [len(ids) - 1]])
            out[video_id] = [(int(ids[s]), int(ids[e]) + 1) for s, e in zip(starts, ends)]
        return out


@dataclass
class TraceThumbnailOp(UnaryOp):
    """Stands for decoding in a replay: appends each frame's thumbnail (for a cascade)."""

    trace: Trace

    @property
    def schema(self) -> pa.Schema:
        """The child's schema plus the thumbnail column, when the trace kept thumbnails."""
        if not self.trace.has_thumbnails:
            return self.child.schema
        return self.child.schema.append(
            pa.field(THUMB_FIELD, pa.fixed_shape_tensor(pa.uint8(), (36, 64))))

    def describe(self) -> str:
        """That frames are replayed as their thumbnails from the trace."""
        return "Replay: frames stand in by their thumbnails from the exact run's trace"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows with their recorded thumbnails, counted as decoded frames."""
        for batch in self.child.batches(ctx):
            ctx.stats.frames_decoded += batch.num_rows  # as the exact run decoded them
            if not self.trace.has_thumbnails:
                yield batch
                continue
            thumbs = self.trace.thumbnails(batch) if batch.num_rows else \
                np.zeros((0, 36, 64), np.uint8)
            yield batch.append_column(self.schema.field(THUMB_FIELD),
                                      pa.FixedShapeTensorArray.from_numpy_ndarray(thumbs))


@dataclass
class TraceColumnOp(UnaryOp):
    """Stands for a function in a replay: appends its values from the exact run's trace."""

    column: str
    trace: Trace
    type: pa.DataType
    function: str  # counted in the statistics as the function it stands for

    @property
    def schema(self) -> pa.Schema:
        """The child's schema plus ``column``."""
        return self.child.schema.append(pa.field(self.column, self.type))

    def describe(self) -> str:
        """The column replayed from the trace."""
        return f"Replay: {self.column} from the exact run's trace"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows plus ``column`` from the trace, counted as the function's frames."""
        for batch in self.child.batches(ctx):
            values = self.trace.values(batch, self.column) if batch.num_rows else \
                pa.array([], type=self.type)
            ctx.stats.udf_frames[self.function] += batch.num_rows
            yield batch.append_column(pa.field(self.column, self.type), values)


def record(op: Operator, trace: Trace, ctx: ExecContext) -> Trace:
    """Run ``op`` (the exact pipeline up to its last function) to its end into ``trace``."""
    from vql.exec.failures import guarded

    for batch in guarded(op, ctx):
        trace.add(batch)
    trace.seal()
    trace.frames_decoded = ctx.stats.frames_decoded
    return trace
