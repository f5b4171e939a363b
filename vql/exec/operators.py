"""Physical operators of a video pipeline. Each pulls record batches from its child and yields
new ones; batches never span two videos, so a per-video state (a decoder, a stateful UDF)
changes only at batch boundaries. No operator holds more than one batch.

Inside the pipeline the ``frame`` column is an Arrow fixed-shape tensor (uint8, H x W x 3, RGB),
converted to NumPy without a copy for the kernels; ``Project`` drops it or encodes it as JPEG.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vql.catalog import VideoRow
from vql.errors import Error, UDFError, VideoError
from vql.exec.context import ExecContext
from vql.exec.decode import FrameReader
from vql.functions.spec import Evaluator, FrameFunction
from vql.plan.nodes import UDFCall

METADATA_SCHEMA = pa.schema([
    ("video_id", pa.int32()), ("path", pa.string()), ("frame_id", pa.int32()),
    ("ts", pa.float64()), ("fps", pa.float64()), ("width", pa.int32()),
    ("height", pa.int32()), ("duration", pa.float64()),
])
FRAME_FIELD = "frame"


class Operator(t.Protocol):
    @property
    def schema(self) -> pa.Schema: ...

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]: ...

    def describe(self) -> str: ...

    @property
    def children(self) -> tuple[Operator, ...]: ...


@dataclass
class UnaryOp:
    """An operator with one input whose schema it keeps unless it says otherwise."""

    child: Operator

    @property
    def schema(self) -> pa.Schema:
        return self.child.schema

    @property
    def children(self) -> tuple[Operator, ...]:
        return (self.child,)


def _video_id(batch: pa.RecordBatch) -> int:
    return int(batch.column("video_id")[0].as_py())


@dataclass
class FrameScan:
    """Frame rows of a video table from the catalog's timestamps; checks each file is unchanged."""

    table: str
    videos: list[VideoRow]
    timestamps: dict[int, np.ndarray]
    batch_size: int
    schema: pa.Schema = METADATA_SCHEMA
    children: tuple[Operator, ...] = ()

    def describe(self) -> str:
        return (f"FrameScan {self.table}: {len(self.videos)} videos from the catalog, "
                f"batches of {self.batch_size}")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        for video in self.videos:
            _check_unchanged(video)
            ts = self.timestamps[video.video_id]
            for start in range(0, len(ts), self.batch_size):
                stop = min(start + self.batch_size, len(ts))
                ctx.stats.frames_scanned += stop - start
                yield _metadata_batch(video, start, stop, ts[start:stop])


def _check_unchanged(video: VideoRow) -> None:
    try:
        stat = os.stat(video.path)
    except OSError as error:
        raise VideoError(video.path, f"the file is gone ({error.strerror})") from error
    if stat.st_size != video.size or stat.st_mtime != video.mtime:
        raise VideoError(video.path, "the file changed since it was loaded; run LOAD VIDEO "
                                     "again to refresh the catalog")


def _metadata_batch(video: VideoRow, start: int, stop: int, ts: np.ndarray) -> pa.RecordBatch:
    n = stop - start
    return pa.record_batch([
        pa.array(np.full(n, video.video_id, dtype=np.int32)),
        pa.array([video.path] * n, pa.string()),
        pa.array(np.arange(start, stop, dtype=np.int32)),
        pa.array(ts, pa.float64()),
        pa.array(np.full(n, video.fps)),
        pa.array(np.full(n, video.width, dtype=np.int32)),
        pa.array(np.full(n, video.height, dtype=np.int32)),
        pa.array(np.full(n, video.duration)),
    ], schema=METADATA_SCHEMA)


def rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Merge consecutive small batches of the same video into batches of about ``size`` rows,
    so that per-batch costs (a decode call, a model call) are paid once per full batch."""
    pending: list[pa.RecordBatch] = []
    rows, video = 0, -1
    for batch in batches:
        if pending and (_video_id(batch) != video or rows >= size):
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
            pending, rows = [], 0
        pending.append(batch)
        rows += batch.num_rows
        video = _video_id(batch)
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


@dataclass
class SampleOp(UnaryOp):
    """Keeps the first frame of each 1/fps interval of presentation time, per video; the kept
    rows are regrouped into full batches."""

    fps: float
    batch_size: int = 16

    def describe(self) -> str:
        return f"Sample {self.fps:g} FPS by timestamp"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        return rebatch(self._sampled(ctx), self.batch_size)

    def _sampled(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        video, last_tick = -1, None
        for batch in self.child.batches(ctx):
            if _video_id(batch) != video:
                video, last_tick = _video_id(batch), None
            # A tiny epsilon keeps 0.3 * 10 from flooring to 2 instead of 3.
            ticks = np.floor(batch.column("ts").to_numpy() * self.fps + 1e-9).astype(np.int64)
            previous = np.concatenate([[last_tick if last_tick is not None else ticks[0] - 1],
                                       ticks[:-1]])
            keep = ticks != previous
            last_tick = int(ticks[-1])
            if keep.any():
                yield batch.filter(pa.array(keep))


@dataclass
class DecodeOp(UnaryOp):
    """Adds the ``frame`` column: the pixels of each row's frame, decoded with decord. The
    schema stays the child's: the tensor's shape is per video, and the column never leaves
    the pipeline as a tensor."""

    threads: int

    def describe(self) -> str:
        return f"Decode with decord (cpu, {self.threads} threads, native resolution, RGB)"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        reader: FrameReader | None = None
        for batch in self.child.batches(ctx):
            path = batch.column("path")[0].as_py()
            if reader is None or reader.path != path:
                reader = FrameReader(path, self.threads)
            frames = reader.read(batch.column("frame_id").to_numpy())
            ctx.stats.frames_decoded += len(frames)
            tensor = pa.FixedShapeTensorArray.from_numpy_ndarray(frames)
            yield batch.append_column(FRAME_FIELD, tensor)


def frames_of(batch: pa.RecordBatch) -> np.ndarray:
    column = batch.column(FRAME_FIELD)
    return t.cast(np.ndarray, column.to_numpy_ndarray())


@dataclass
class UDFOp(UnaryOp):
    """Computes one frame function into a new column; stateful ones restart for each video."""

    call: UDFCall
    function: FrameFunction
    _schema: pa.Schema | None = field(default=None, repr=False)

    @property
    def schema(self) -> pa.Schema:
        if self._schema is None:
            self._schema = self.child.schema.append(pa.field(self.call.column, self.function.returns))
        return self._schema

    def describe(self) -> str:
        mode = "batched" if self.function.traits.batchable else "per frame"
        state = ", stateful: restarts per video" if self.function.traits.stateful else ""
        return f"UDF {self.call.text()} -> {self.call.column} (cpu, {mode}{state})"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        video, evaluator = -1, None
        for batch in self.child.batches(ctx):
            if evaluator is None or (self.function.traits.stateful and _video_id(batch) != video):
                video, evaluator = _video_id(batch), self.function.open(self.call.constants)
            values = self._evaluate(evaluator, batch)
            ctx.stats.udf_frames[self.call.function] += batch.num_rows
            yield batch.append_column(pa.field(self.call.column, self.function.returns), values)

    def _evaluate(self, evaluator: Evaluator, batch: pa.RecordBatch) -> pa.Array:
        frames = frames_of(batch)
        try:
            values = evaluator(frames)
            array = pa.array(values, type=self.function.returns)
        except Error:
            raise
        except Exception as error:
            first, last = (batch.column("frame_id")[i].as_py() for i in (0, -1))
            path = batch.column("path")[0].as_py()
            raise UDFError(f"{self.call.text()} failed on {path} frames {first}..{last}: "
                           f"{type(error).__name__}: {error}") from error
        if len(array) != batch.num_rows:
            raise UDFError(f"{self.call.function} returned {len(array)} values for "
                           f"{batch.num_rows} frames")
        return array


@dataclass
class FilterOp(UnaryOp):
    """Keeps rows where a predicate holds, evaluated by a private DuckDB on each batch."""

    predicate: str
    params: tuple[t.Any, ...]

    def describe(self) -> str:
        return f"Filter {self.predicate}"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        con = ctx.filter_con
        for batch in self.child.batches(ctx):
            visible = batch.drop_columns([FRAME_FIELD]) if FRAME_FIELD in batch.schema.names \
                else batch
            con.register("__vql_batch", visible)
            try:
                mask = con.execute(f"SELECT ({self.predicate}) IS TRUE AS keep FROM __vql_batch",
                                   list(self.params)).fetchnumpy()["keep"]
            finally:
                con.unregister("__vql_batch")
            ctx.stats.rows_filtered_out += int(len(mask) - mask.sum())
            if mask.any():
                yield batch.filter(pa.array(np.asarray(mask, dtype=bool)))


@dataclass
class LimitOp(UnaryOp):
    """Stops pulling from its child after ``count`` rows: upstream decoding stops too."""

    count: int

    def describe(self) -> str:
        return f"Limit {self.count} (stops decoding early)"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        left = self.count
        if left <= 0:
            return
        for batch in self.child.batches(ctx):
            yield batch.slice(0, left)
            left -= min(left, batch.num_rows)
            if left == 0:
                return


def encode_jpeg(frames: np.ndarray, quality: int = 90) -> pa.Array:
    import cv2

    encoded = []
    for frame in frames:
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(frame[..., ::-1]),
                                [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise UDFError("JPEG encoding of a frame failed")
        encoded.append(data.tobytes())
    return pa.array(encoded, pa.binary())


@dataclass
class ProjectOp(UnaryOp):
    """The pipeline's output: chosen columns, ``frame`` as JPEG bytes when selected."""

    view: str
    columns: tuple[str, ...]
    encode_frame: bool

    @property
    def schema(self) -> pa.Schema:
        fields = []
        for name in self.columns:
            if name == FRAME_FIELD:
                fields.append(pa.field(FRAME_FIELD, pa.binary()))
            else:
                fields.append(self.child.schema.field(name))
        return pa.schema(fields)

    def describe(self) -> str:
        frame = ", frame as JPEG" if self.encode_frame else ""
        return f"Output view {self.view}: {len(self.columns)} columns{frame}"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        schema = self.schema
        for batch in self.child.batches(ctx):
            arrays = []
            for name in self.columns:
                if name == FRAME_FIELD:
                    arrays.append(encode_jpeg(frames_of(batch)))
                else:
                    arrays.append(batch.column(name))
            yield pa.record_batch(arrays, schema=schema)
