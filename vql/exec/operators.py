"""Physical operators of a video pipeline. Each pulls record batches from its child and yields
new ones; batches never span two videos, so a per-video state (a decoder, a stateful UDF)
changes only at batch boundaries. No operator holds more than one batch of pixels; a lossy
plan's ``FillOp`` also holds the metadata rows (no pixels) up to the next processed frame.

Inside the pipeline the ``frame`` column is an Arrow fixed-shape tensor (uint8, H x W x 3, RGB),
converted to NumPy without a copy for the kernels; ``Project`` drops it or encodes it as JPEG.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import math
import os
import typing as t
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from queue import Empty, Queue

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
    ("height", pa.int32()), ("duration", pa.float64()), ("computed", pa.bool_()),
])
FRAME_FIELD = "frame"


class Operator(t.Protocol):
    """A physical operator: its output schema and batches, a line for EXPLAIN, and its inputs."""

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the batches it yields."""

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Its output, pulled from its inputs batch by batch; a batch never spans two videos."""

    def describe(self) -> str:
        """What it does, in one line for EXPLAIN."""

    @property
    def children(self) -> tuple[Operator, ...]:
        """The operators it pulls from (none for a source)."""


@dataclass
class UnaryOp:
    """An operator with one input whose schema it keeps unless it says otherwise."""

    child: Operator

    @property
    def schema(self) -> pa.Schema:
        """The child's schema, unchanged."""
        return self.child.schema

    @property
    def children(self) -> tuple[Operator, ...]:
        """Its one input, ``child``."""
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
    # Only these frame ranges [start, stop) per video (the profiler's clips); None: all frames.
    ranges: dict[int, list[tuple[int, int]]] | None = None
    schema: pa.Schema = METADATA_SCHEMA
    children: tuple[Operator, ...] = ()

    def describe(self) -> str:
        """The table, how many videos (and clips) it reads, and the batch size."""
        part = "" if self.ranges is None else \
            f", {sum(len(r) for r in self.ranges.values())} clips"
        return (f"FrameScan {self.table}: {len(self.videos)} videos from the catalog{part}, "
                f"batches of {self.batch_size}")

    @property
    def total(self) -> int:
        """Frames it will read."""
        if self.ranges is None:
            return sum(v.frames for v in self.videos)
        return sum(last - first for spans in self.ranges.values() for first, last in spans)

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Metadata rows of each video's frames (or clips) in order; fails if a file changed."""
        for video in self.videos:
            _check_unchanged(video)
            ts = self.timestamps[video.video_id]
            spans = [(0, len(ts))] if self.ranges is None else self.ranges.get(video.video_id, [])
            for first, last in spans:
                for start in range(first, last, self.batch_size):
                    stop = min(start + self.batch_size, last)
                    ctx.stats.frames_scanned += stop - start
                    if ctx.progress is not None:
                        ctx.progress.advance(stop - start)
                    yield _metadata_batch(video, start, stop, ts[start:stop])
        if ctx.progress is not None:
            ctx.progress.report()  # every frame read


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
        pa.array(np.ones(n, dtype=bool)),
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
    regroup: bool = True  # False: each batch goes on as soon as it is sampled (a live stream)

    def describe(self) -> str:
        """The sampling rate, kept by presentation timestamp."""
        return f"Sample {self.fps:g} FPS by timestamp"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows at ``fps`` per video, regrouped into batches of ``batch_size``."""
        if not self.regroup:
            return self._sampled(ctx)
        return rebatch(self._sampled(ctx), self.batch_size)

    def _sampled(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        video, last_tick = -1, None
        for batch in self.child.batches(ctx):
            if _video_id(batch) != video:
                video, last_tick = _video_id(batch), None
            # A tiny epsilon keeps 0.3 * 10 from flooring to 2 instead of 3.
            # Above MAX_SAMPLE_FPS every frame is kept anyway (timestamps are kept to 0.1 ms);
            # the cap keeps ts * fps within int64.
            fps = min(self.fps, MAX_SAMPLE_FPS)
            ticks = np.floor(batch.column("ts").to_numpy() * fps + 1e-9).astype(np.int64)
            previous = np.concatenate([[last_tick if last_tick is not None else ticks[0] - 1],
                                       ticks[:-1]])
            keep = ticks != previous
            last_tick = int(ticks[-1])
            if keep.any():
                yield batch.filter(pa.array(keep))


MAX_SAMPLE_FPS = 1e5


@dataclass
class DecodeOp(UnaryOp):
    """Adds the ``frame`` column: the pixels of each row's frame, decoded with decord. The
    schema stays the child's: the tensor's shape is per video, and the column never leaves
    the pipeline as a tensor."""

    threads: int
    scale: float = 1.0
    stop_read_ahead: bool = False  # a slow consumer above (see FrameReader.read)

    def describe(self) -> str:
        """The decoder, its threads and the resolution it decodes at."""
        size = "native resolution" if self.scale == 1 else f"{self.scale:g}x resolution"
        if self.stop_read_ahead and self.scale == 1:  # see FrameReader
            return (f"Decode with PyAV in order, else decord (cpu, {self.threads} threads, "
                    f"{size}, RGB)")
        return f"Decode with decord (cpu, {self.threads} threads, {size}, RGB)"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows plus their pixels (``frame``); damaged frames get stand-ins."""
        reader: FrameReader | None = None
        size: tuple[int, int] | None = None
        last: np.ndarray | None = None  # the last frame decoded, a stand-in for damaged ones
        try:
            for batch in self.child.batches(ctx):
                path = batch.column("path")[0].as_py()
                if reader is None or reader.path != path:
                    if reader is not None:
                        reader.close()
                    last = None
                    size = scaled_size(batch.column("width")[0].as_py(),
                                       batch.column("height")[0].as_py(), self.scale)
                    reader = FrameReader(path, self.threads, size,
                                         stop_read_ahead=self.stop_read_ahead)
                frame_ids = batch.column("frame_id").to_numpy()
                frames, decoded = reader.read_or_skip(frame_ids)
                if not decoded.all():
                    # Damaged there: the rows keep a stand-in frame through the pipeline (a
                    # section expects its rows back); the operators above that count or
                    # output rows drop them (damaged_below).
                    ctx.damaged.setdefault(id(self), {}).setdefault(path, set()).update(
                        int(f) for f in frame_ids[~decoded])
                    shape = (size[1], size[0]) if size else (
                        batch.column("height")[0].as_py(), batch.column("width")[0].as_py())
                    frames = stand_ins(frames, decoded, last, shape)
                last = frames[-1]
                ctx.stats.frames_decoded += int(decoded.sum())
                tensor = pa.FixedShapeTensorArray.from_numpy_ndarray(frames)
                yield batch.append_column(FRAME_FIELD, tensor)
        finally:
            if reader is not None:
                reader.close()


def stand_ins(frames: np.ndarray, decoded: np.ndarray, last: np.ndarray | None,
              shape: tuple[int, int]) -> np.ndarray:
    """A frame for every row: the decoded ones, and for each one that could not be decoded
    the frame shown before it (as a player freezes on damage; black at a video's start), so
    that stateful functions see no motion where the file is damaged."""
    out = np.empty((len(decoded), *(frames.shape[1:] if len(frames) else (*shape, 3))),
                   dtype=np.uint8)
    if len(frames):
        out[decoded] = frames
    previous = last if last is not None else np.zeros(out.shape[1:], dtype=np.uint8)
    for row in range(len(decoded)):
        if decoded[row]:
            previous = out[row]
        else:
            out[row] = previous
    return out


def damaged_below(op: t.Any, ctx: ExecContext) -> dict[str, set[int]]:
    """Frames that the decoders under ``op`` (its own pipeline, not another of the query)
    could not decode so far, by path."""
    if not ctx.damaged:
        return {}
    found: dict[str, set[int]] = {}
    stack = [op]
    while stack:
        node = stack.pop()
        inner = getattr(node, "inner", node)  # a Measured wrapper
        for path, frames in ctx.damaged.get(id(inner), {}).items():
            found.setdefault(path, set()).update(list(frames))  # list(): a prefetch thread adds
        stack.extend(node.children)
    return found


def without_damaged(batch: pa.RecordBatch, damaged: dict[str, set[int]]) -> pa.RecordBatch:
    """The batch less its rows of frames that could not be decoded (see DecodeOp)."""
    if not damaged or batch.num_rows == 0 or "path" not in batch.schema.names:
        return batch
    lost = damaged.get(batch.column("path")[0].as_py())
    if not lost:
        return batch
    keep = ~np.isin(batch.column("frame_id").to_numpy(), np.array(list(lost), dtype=np.int64))
    return batch if keep.all() else batch.filter(pa.array(keep))


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int] | None:
    """Decoded (width, height) at ``scale`` (even numbers, as codecs like), None for native."""
    if scale == 1:
        return None
    wide = max(2, round(width * scale / 2) * 2)
    while wide in MISREAD_WIDTHS:
        wide += 2
    return wide, max(2, round(height * scale / 2) * 2)


# Widths decord 0.6 cannot scale to: every batch fails ("The size must exactly match"), its
# check for padded rows being fooled. Measured over the even widths 2-1198 (car-detection.mp4).
MISREAD_WIDTHS = frozenset({2, 4, 6, 8, 12, 16, 24, 48, 72})


def frames_of(batch: pa.RecordBatch) -> np.ndarray:
    """The batch's ``frame`` column as one NumPy array (N x H x W x 3 uint8), without a copy."""
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
        """The child's schema plus the function's column (``call.column``)."""
        if self._schema is None:
            self._schema = self.child.schema.append(pa.field(self.call.column, self.function.returns))
        return self._schema

    def describe(self) -> str:
        """The call, its column, device, batching, state and ``when`` condition."""
        mode = "batched" if self.function.traits.batchable else "per frame"
        state = ", stateful: restarts per video" if self.function.traits.stateful else ""
        only = "" if self.call.when is None else f", only where {self.call.when}"
        return (f"UDF {self.call.text()} -> {self.call.column} "
                f"({self.call.device}, {mode}{state}{only})")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows plus the call's values (NULL where its ``when`` does not hold)."""
        video, evaluator = -1, None
        for batch in self.child.batches(ctx):
            if batch.num_rows == 0:  # a cascade let no frame of this batch through
                yield batch.append_column(pa.field(self.call.column, self.function.returns),
                                          pa.array([], type=self.function.returns))
                continue
            if evaluator is None or (self.function.traits.stateful and _video_id(batch) != video):
                video = _video_id(batch)
                evaluator = self.function.open(self.call.constants, self.call.device)
            field_ = pa.field(self.call.column, self.function.returns)
            if self.call.when is not None:  # only the rows whose CASE branch needs it
                yield batch.append_column(field_, self._where(evaluator, batch, ctx))
                continue
            values = self._evaluate(evaluator, batch)
            ctx.stats.udf_frames[self.call.function] += batch.num_rows
            yield batch.append_column(field_, values)

    def _where(self, evaluator: Evaluator, batch: pa.RecordBatch, ctx: ExecContext) -> pa.Array:
        assert self.call.when is not None
        mask = predicate_mask(ctx, batch, self.call.when)
        needed = int(mask.sum())
        ctx.stats.udf_frames[self.call.function] += needed
        if needed == 0:
            return pa.nulls(batch.num_rows, type=self.function.returns)
        computed = self._evaluate(evaluator, batch.filter(pa.array(mask)))
        if needed == batch.num_rows:
            return computed
        positions = np.full(batch.num_rows, -1)
        positions[mask] = np.arange(needed)
        return computed.take(pa.array(positions, mask=~mask))

    def _evaluate(self, evaluator: Evaluator, batch: pa.RecordBatch) -> pa.Array:
        frames = frames_of(batch)
        try:
            ts = batch.column("ts").to_numpy() if self.function.traits.timed else None
            values = evaluator(frames, ts)
            array = pa.array(values, type=self.function.returns)
            width = batch.column("width")[0].as_py()
            if frames.shape[2] != width and is_box_list(array.type):
                height = batch.column("height")[0].as_py()
                array = rescale_boxes(array, width / frames.shape[2], height / frames.shape[1])
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
class DiffGateOp(UnaryOp):
    """Lets a frame through when its 64x36 grey thumbnail differs from the last frame let
    through (same video) by at least ``threshold`` (mean absolute level, 0..1). Yields one
    batch, possibly empty, per input batch (the contract of a sampled section)."""

    threshold: float

    def describe(self) -> str:
        """The threshold within which a frame counts as unchanged and is skipped."""
        return (f"DiffGate (cpu): skip frames within {self.threshold:.1%} of the last "
                "processed one")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Per input batch, its frames that changed enough since the last one let through."""
        video, last = -1, None
        for batch in self.child.batches(ctx):
            if _video_id(batch) != video:
                video, last = _video_id(batch), None
            keep = np.zeros(batch.num_rows, dtype=bool)
            for i, thumb in enumerate(thumbnails_of(batch)):
                if last is None or float(np.abs(thumb - last).mean()) >= self.threshold:
                    keep[i], last = True, thumb
            yield batch.filter(pa.array(keep))


THUMB_FIELD = "__vql_thumb"  # a frame's 64x36 grey thumbnail, when no pixels are at hand


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """The 64x36 grey thumbnail (0..1, float32) a cascade compares frames by."""
    return grey_levels(small_grey(frame))


def small_grey(frame: np.ndarray) -> np.ndarray:
    """The thumbnail's grey levels (64x36 uint8): what a trace keeps, a quarter of the size."""
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return t.cast(np.ndarray, cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA))


def grey_levels(small: np.ndarray) -> np.ndarray:
    """Grey levels 0..255 (uint8) as 0..1 (float32)."""
    return small.astype(np.float32) / 255


def thumbnails_of(batch: pa.RecordBatch) -> np.ndarray:
    """The batch's thumbnails: from its pixels, or from a thumbnail column (a trace's)."""
    if THUMB_FIELD in batch.schema.names:  # a trace's grey levels (uint8)
        return grey_levels(batch.column(THUMB_FIELD).to_numpy_ndarray())
    frames = frames_of(batch)
    return np.stack([thumbnail(f) for f in frames]) if len(frames) else \
        np.zeros((0, 36, 64), np.float32)


BOX_FIELDS = ("x1", "y1", "x2", "y2")


def is_box_list(arrow_type: pa.DataType) -> bool:
    """A list of structs with pixel boxes x1, y1, x2, y2 (what detect returns)."""
    return pa.types.is_list(arrow_type) and pa.types.is_struct(arrow_type.value_type) and all(
        arrow_type.value_type.get_field_index(name) >= 0 for name in BOX_FIELDS)


def rescale_boxes(array: pa.ListArray, sx: float, sy: float) -> pa.ListArray:
    """Boxes found on a frame decoded at reduced resolution, in pixels of the native frame."""
    import pyarrow.compute as pc

    items = array.values
    struct_type = items.type
    fields = []
    for i in range(struct_type.num_fields):
        name = struct_type.field(i).name
        values = items.field(i)
        if name in BOX_FIELDS:
            factor = sx if name in ("x1", "x2") else sy
            values = pc.multiply(values, pa.scalar(factor, values.type))
        fields.append(values)
    rebuilt = pa.StructArray.from_arrays(fields, fields=list(struct_type))
    return pa.ListArray.from_arrays(array.offsets, rebuilt, type=array.type, mask=array.is_null())


def predicate_mask(ctx: ExecContext, batch: pa.RecordBatch, predicate: str,
                   params: tuple[t.Any, ...] = ()) -> np.ndarray:
    """Where ``predicate`` (DuckDB SQL over the batch's columns) is true, evaluated by the
    statement's private DuckDB (pixels and thumbnails are not shown to it)."""
    hidden = [n for n in (FRAME_FIELD, THUMB_FIELD) if n in batch.schema.names]
    con = ctx.filter_con
    con.register("__vql_batch", batch.drop_columns(hidden) if hidden else batch)
    try:
        found = con.execute(f"SELECT ({predicate}) IS TRUE AS keep FROM __vql_batch",
                            list(params)).fetchnumpy()["keep"]
    finally:
        con.unregister("__vql_batch")
    return np.asarray(found, dtype=bool)


@dataclass
class FilterOp(UnaryOp):
    """Keeps rows where a predicate holds, evaluated by a private DuckDB on each batch."""

    predicate: str
    params: tuple[t.Any, ...]

    def describe(self) -> str:
        """The predicate, as SQL."""
        return f"Filter {self.predicate}"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's batches less the rows where the predicate is not true; empty ones dropped."""
        for batch in self.child.batches(ctx):
            mask = predicate_mask(ctx, batch, self.predicate, self.params)
            ctx.stats.rows_filtered_out += int(len(mask) - mask.sum())
            if mask.any():
                yield batch.filter(pa.array(np.asarray(mask, dtype=bool)))


@dataclass
class LimitOp(UnaryOp):
    """Stops pulling from its child after ``count`` rows: upstream decoding stops too."""

    count: int

    def describe(self) -> str:
        """The row count, and that decoding stops once it is reached."""
        return f"Limit {self.count} (stops decoding early)"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The first ``count`` rows (less damaged frames); then it stops pulling from the child."""
        left = self.count
        if left <= 0:
            return
        for batch in self.child.batches(ctx):
            batch = without_damaged(batch, damaged_below(self.child, ctx))
            yield batch.slice(0, left)
            left -= min(left, batch.num_rows)
            if left == 0:
                return


def encode_jpeg(frames: np.ndarray, quality: int = 90) -> pa.Array:
    """Each RGB frame encoded as JPEG at ``quality``, as an Arrow binary array."""
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
        """The ``columns`` as the child has them, ``frame`` as binary (JPEG)."""
        fields = []
        for name in self.columns:
            if name == FRAME_FIELD:
                fields.append(pa.field(FRAME_FIELD, pa.binary()))
            else:
                fields.append(self.child.schema.field(name))
        return pa.schema(fields)

    def describe(self) -> str:
        """The output view, its column count, and whether frames come out as JPEG."""
        frame = ", frame as JPEG" if self.encode_frame else ""
        return f"Output view {self.view}: {len(self.columns)} columns{frame}"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's rows less damaged frames, cut to ``columns``, frames encoded as JPEG."""
        schema = self.schema
        for batch in self.child.batches(ctx):
            batch = without_damaged(batch, damaged_below(self.child, ctx))
            arrays = []
            for name in self.columns:
                if name == FRAME_FIELD:
                    arrays.append(encode_jpeg(frames_of(batch)))
                else:
                    arrays.append(batch.column(name))
            yield pa.record_batch(arrays, schema=schema)


_END = object()


@dataclass
class FeedOp:
    """The source of a section (``SectionOp``): yields the batches its owner pushes, in order.
    Every operator of a section yields one batch per input batch. A pull waits for a push, so
    a section may run ahead in another thread (``PrefetchOp``); ``close`` ends the stream."""

    schema: pa.Schema
    what: str = "the sampled frames"
    queue: Queue[t.Any] = field(default_factory=Queue)
    children: tuple[Operator, ...] = ()

    def describe(self) -> str:
        """What its owner pushes (``what``), e.g. the sampled frames."""
        return self.what

    def push(self, batch: pa.RecordBatch) -> None:
        """Queue ``batch`` for the section to pull."""
        self.queue.put(batch)

    def close(self) -> None:
        """End the stream: the section's pull ends after the batches already pushed."""
        self.queue.put(_END)

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The pushed batches in order, until ``close`` or until the statement is stopping."""
        while not ctx.stopping.is_set():
            try:
                batch = self.queue.get(timeout=0.05)
            except Empty:
                continue  # a puller in another thread checks now and then whether to stop
            if batch is _END:
                return
            yield batch


class RatePicker(t.Protocol):
    """Picks a lossy plan's sampling rate per invocation while it runs (``LatencyController``)."""

    invocation_s: float

    def start(self) -> None:
        """Start the clock the time budget is counted from (the pipeline starts)."""

    def rate(self, done_video_s: float) -> float:
        """The sampling rate for the invocation that starts after ``done_video_s`` s of video."""

    def processed(self, video_s: float) -> None:
        """The pipeline has processed the frames up to ``video_s`` seconds of video."""


@dataclass
class _VideoRun:
    """FillOp's state for one video: rows waiting to be emitted, rows chosen for processing,
    and the last processed row (its timestamp and function values) carried between flushes."""

    rows: list[pa.RecordBatch] = field(default_factory=list)
    chosen: list[pa.RecordBatch] = field(default_factory=list)
    chosen_rows: int = 0
    chosen_until: float = 0.0  # seconds of video (over all videos) up to the last chosen row
    next_due: float = -np.inf
    carry_ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    carry: pa.Table | None = None


@dataclass
class SectionOp(UnaryOp, abc.ABC):
    """Sends some of its child's rows through ``section`` (operators fed by ``feed``, one
    batch out per batch in) and returns every row with the section's ``added`` columns.
    Abstract: FillOp and ReuseOp say which columns they add."""

    section: Operator
    feed: FeedOp

    @property
    @abc.abstractmethod
    def added(self) -> tuple[str, ...]:
        """The section's columns this operator appends to its child's rows."""

    @functools.cached_property
    def schema(self) -> pa.Schema:  # type: ignore[override]
        """The child's schema plus the section's ``added`` columns."""
        schema, inner = self.child.schema, self.section.schema
        for name in self.added:
            schema = schema.append(inner.field(name))
        return schema

    @property
    def children(self) -> tuple[Operator, ...]:
        """``section``, then ``child``: both run below it."""
        return (self.section, self.child)

    @contextlib.contextmanager
    def running(self, ctx: ExecContext) -> Iterator[Generator[pa.RecordBatch, None, None]]:
        """The section's output stream; on exit the feed is closed and the stream too."""
        section = t.cast(Generator[pa.RecordBatch, None, None], self.section.batches(ctx))
        try:
            yield section
        finally:
            self.feed.close()
            section.close()


@dataclass
class FillOp(SectionOp):
    """A lossy plan's sampling: of the rows from ``child`` (every frame), processes one per
    1/fps seconds through ``section`` (decoding and functions, fed by ``feed``) and emits every
    row, each skipped one with the function columns of the nearest processed frame of its video
    by timestamp and ``computed`` false. A row is emitted once a processed frame at or after it
    is known, so only metadata rows (no pixels) wait. With a ``picker`` the rate is chosen
    again at each invocation (``picker.invocation_s`` seconds of video)."""

    columns: tuple[str, ...]
    fps: float
    batch_size: int
    picker: RatePicker | None = None

    @property
    def added(self) -> tuple[str, ...]:
        """The function columns it fills in, ``columns``."""
        return self.columns

    def describe(self) -> str:
        """The sampling rate (or the controller that picks it) and the columns filled."""
        rate = "every frame" if math.isinf(self.fps) else f"{self.fps:g} FPS"
        how = (f"rate chosen per {self.picker.invocation_s:g} s invocation by the latency "
               f"controller, starting at {rate}" if self.picker else rate)
        return f"Sample ({how}) and fill {', '.join(self.columns)} from the nearest processed frame"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Every row of the child, with the function columns of the nearest processed frame."""
        with self.running(ctx) as section:
            yield from self._filled(ctx, section)

    def _filled(self, ctx: ExecContext, section: Generator[pa.RecordBatch, None, None]
                ) -> Iterator[pa.RecordBatch]:
        fps, done, boundary = self.fps, 0.0, 0.0
        if self.picker is not None:
            self.picker.start()
        run, video, video_start, video_span = _VideoRun(), -1, 0.0, 0.0
        for batch in self.child.batches(ctx):
            if _video_id(batch) != video:
                if video != -1:
                    yield from self._flush(run, section, ctx, final=True)
                    done += video_span
                run, video = _VideoRun(), _video_id(batch)
                video_start = float(batch.column("ts")[0].as_py())
                boundary = done
            ts = batch.column("ts").to_numpy()
            keep = np.zeros(len(ts), dtype=bool)
            decided = False
            for i, stamp in enumerate(ts):
                position = done + float(stamp) - video_start
                if self.picker is not None and position >= boundary:
                    fps = self.picker.rate(position)
                    boundary = position + self.picker.invocation_s
                    decided = True
                if math.isinf(fps):
                    keep[i] = True
                elif stamp >= run.next_due - 1e-9:
                    keep[i] = True
                    run.next_due = (np.floor(stamp * fps + 1e-9) + 1) / fps
                if keep[i]:
                    run.chosen_until = position
            video_span = float(ts[-1]) - video_start
            run.rows.append(batch)
            if keep.any():
                chosen = batch.filter(pa.array(keep))
                run.chosen.append(chosen)
                run.chosen_rows += chosen.num_rows
            # A controlled plan processes what it chose at each new invocation, so that the
            # controller measures its progress as it goes (not after deciding every rate).
            if run.chosen_rows >= self.batch_size or (decided and run.chosen_rows):
                yield from self._flush(run, section, ctx, final=False)
        if video != -1:
            yield from self._flush(run, section, ctx, final=True)

    def _flush(self, run: _VideoRun, section: Generator[pa.RecordBatch, None, None],
               ctx: ExecContext,
               final: bool) -> Iterator[pa.RecordBatch]:
        if run.chosen:
            self.feed.push(pa.Table.from_batches(run.chosen).combine_chunks().to_batches()[0])
            out = next(section)
            if self.picker is not None:
                self.picker.processed(run.chosen_until)
            values = pa.Table.from_batches([out]).select(list(self.columns))
            stamps = out.column("ts").to_numpy()
            _count_changes(values if run.carry is None else
                           pa.concat_tables([run.carry, values]), ctx)
            if run.carry is not None:
                values = pa.concat_tables([run.carry, values])
                stamps = np.concatenate([run.carry_ts, stamps])
            run.carry, run.carry_ts = values.slice(len(values) - 1), stamps[-1:]
            run.chosen, run.chosen_rows = [], 0
        else:
            if run.carry is None:
                return
            values, stamps = run.carry, run.carry_ts
        if not run.rows:
            return
        rows = pa.Table.from_batches(run.rows).combine_chunks()
        row_ts = rows.column("ts").to_numpy()
        ready = len(rows) if final else int(np.searchsorted(row_ts, stamps[-1], side="right"))
        run.rows = [b for b in rows.slice(ready).to_batches()] if ready < len(rows) else []
        if ready == 0:
            return
        emit = rows.slice(0, ready)
        nearest = _nearest(stamps, row_ts[:ready])
        computed = np.abs(stamps[nearest] - row_ts[:ready]) < 1e-9
        ctx.stats.rows_filled += int(ready - computed.sum())
        emit = emit.set_column(emit.schema.get_field_index("computed"), "computed",
                               pa.array(computed))
        for name in self.columns:
            emit = emit.append_column(values.schema.field(name),
                                      values.column(name).take(pa.array(nearest)))
        yield from emit.combine_chunks().to_batches()


def _count_changes(values: pa.Table, ctx: ExecContext) -> None:
    """How often consecutive processed frames disagree: the statistic that reveals drift."""
    rows = list(zip(*(values.column(i).to_pylist() for i in range(values.num_columns))))
    ctx.stats.processed_pairs += max(len(rows) - 1, 0)
    ctx.stats.processed_changes += sum(1 for a, b in zip(rows, rows[1:]) if a != b)


def _nearest(stamps: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target time, the index of the nearest of the sorted ``stamps`` (earlier wins a
    tie)."""
    right = np.searchsorted(stamps, targets, side="left").clip(0, len(stamps) - 1)
    left = (right - 1).clip(0, len(stamps) - 1)
    use_left = np.abs(targets - stamps[left]) <= np.abs(stamps[right] - targets)
    return np.where(use_left, left, right)
