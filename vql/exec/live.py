"""Live tables in a pipeline: frames come from a stream (``vql.video.live``), already decoded,
or from the segments a recorder writes into a folder (``WatchScanOp``).

``LiveScanOp`` stands where ``FrameScan`` stands over files: it yields the stream's frames as
they arrive, the metadata columns and the pixels together (a stream is decoded whatever the
query needs: its frames cannot be fetched later), so the ``Decode`` above it only scales them
(``LiveFramesOp``). It never ends by itself: the statement stops it (``ctx.stopping``).
"""

from __future__ import annotations

import typing as t
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import Empty, Queue

import numpy as np
import pyarrow as pa

from vql.catalog import VideoRow
from vql.exec.context import ExecContext
from vql.exec.operators import (
    FRAME_FIELD,
    METADATA_SCHEMA,
    FrameScan,
    Operator,
    UnaryOp,
    frames_of,
)
from vql.exec.profile import walk
from vql.video.live import CONNECT_TIMEOUT_S, QUEUE_FRAMES, LiveFrame, Subscription, shared

POLL_S = 0.1  # how long a scan waits for frames before it checks whether to stop
ARRIVALS_KEPT = 4096  # arrival times remembered per stream, for the latency of rows


@dataclass
class LiveScanOp:
    """The frames of a live table's stream as they arrive, in batches of at most
    ``batch_size`` (fewer when fewer are waiting: a row is not held back for a full batch)."""

    table: str
    url: str
    fps: float
    batch_size: int
    queue_frames: int = QUEUE_FRAMES
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    size: tuple[int, int] = (0, 0)  # (width, height) as probed; (0, 0) when unknown
    schema: pa.Schema = METADATA_SCHEMA
    children: tuple[Operator, ...] = ()
    source: Subscription | None = None  # while it runs
    taken: int = 0  # frames taken from the stream's queue into the pipeline
    arrivals: OrderedDict[int, float] = field(default_factory=OrderedDict)

    def describe(self) -> str:
        """The stream, its reader and the queue that bounds it."""
        return (f"LiveScan {self.table}: {self.url} with PyAV, as frames arrive (a queue of "
                f"{self.queue_frames} frames; the oldest dropped when it is full)")

    @property
    def total(self) -> int:
        """Frames it will read: unknown for a stream (0)."""
        return 0

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Batches of the frames that arrived, until the statement stops."""
        # one connection per stream in the process, whatever the queries reading it
        source = shared(self.url, self.queue_frames, self.connect_timeout_s)
        self.source = source
        try:
            while not ctx.stopping.is_set():
                frames = source.take(self.batch_size, POLL_S)
                for same in _same_size(frames):
                    ctx.stats.frames_scanned += len(same)
                    ctx.stats.frames_decoded += len(same)  # progress: ContinuousRun
                    self._remember(same)
                    self.taken += len(same)
                    yield self._batch(same)
        finally:
            source.close()

    def blank(self) -> pa.RecordBatch | None:
        """One black frame of the stream's size, as a batch of it (to load a model before
        the first frame comes); None when the size is unknown."""
        width, height = self.size
        if width <= 0 or height <= 0:
            return None
        return self._batch([LiveFrame(0, 0.0, 0.0, np.zeros((height, width, 3), np.uint8))])

    def arrived(self, frame_id: int) -> float | None:
        """When frame ``frame_id`` arrived (time.time()), if it is among the last ones read."""
        return self.arrivals.get(frame_id)

    def _remember(self, frames: list[LiveFrame]) -> None:
        for frame in frames:
            self.arrivals[frame.frame_id] = frame.arrived
        while len(self.arrivals) > ARRIVALS_KEPT:
            self.arrivals.popitem(last=False)

    def _batch(self, frames: list[LiveFrame]) -> pa.RecordBatch:
        n = len(frames)
        height, width = frames[0].pixels.shape[:2]
        pixels = np.stack([f.pixels for f in frames])
        columns = [
            pa.array(np.zeros(n, dtype=np.int32)),  # no video of the catalog (ids start at 1)
            pa.array([self.url] * n, pa.string()),
            pa.array([f.frame_id for f in frames], pa.int32()),
            pa.array([f.ts for f in frames], pa.float64()),
            pa.array(np.full(n, self.fps)),
            pa.array(np.full(n, width, dtype=np.int32)),
            pa.array(np.full(n, height, dtype=np.int32)),
            pa.nulls(n, pa.float64()),
            pa.array(np.ones(n, dtype=bool)),
        ]
        batch = pa.record_batch(columns, schema=METADATA_SCHEMA)
        return batch.append_column(FRAME_FIELD, pa.FixedShapeTensorArray.from_numpy_ndarray(pixels))


def _same_size(frames: list[LiveFrame]) -> Iterator[list[LiveFrame]]:
    """Runs of consecutive frames of one size (a stream may change resolution)."""
    run: list[LiveFrame] = []
    for frame in frames:
        if run and frame.pixels.shape != run[0].pixels.shape:
            yield run
            run = []
        run.append(frame)
    if run:
        yield run


@dataclass
class LiveFramesOp(UnaryOp):
    """``Decode`` over a live scan: the frames are decoded already; scaled if asked."""

    scale: float = 1.0

    def describe(self) -> str:
        """The frames as the stream's decoder gave them, at what resolution."""
        size = "native resolution" if self.scale == 1 else f"{self.scale:g}x resolution"
        return f"Frames decoded by the stream's reader ({size}, RGB)"

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The child's batches, their frames resized when ``scale`` is not 1."""
        for batch in self.child.batches(ctx):
            if self.scale == 1:
                yield batch
                continue
            yield scaled(batch, self.scale)


def scaled(batch: pa.RecordBatch, scale: float) -> pa.RecordBatch:
    """``batch`` with its frames resized by ``scale`` (INTER_AREA)."""
    import cv2

    frames = frames_of(batch)
    height, width = frames.shape[1:3]
    size = (max(int(round(width * scale)), 1), max(int(round(height * scale)), 1))
    small = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
    index = batch.schema.get_field_index(FRAME_FIELD)
    return batch.set_column(index, FRAME_FIELD,
                            pa.FixedShapeTensorArray.from_numpy_ndarray(small))


@dataclass
class WatchScanOp:
    """The frame rows of a WATCH table: its videos in the catalog, then each segment the
    statement hands over (``push``) as the recorder finishes it; it never ends by itself.
    Pixels are decoded above, as for any table of files."""

    table: str
    source: str                 # the glob it follows
    videos: list[VideoRow]
    timestamps: dict[int, np.ndarray]
    batch_size: int
    schema: pa.Schema = METADATA_SCHEMA
    children: tuple[Operator, ...] = ()
    arrived: Queue[tuple[VideoRow, np.ndarray]] = field(default_factory=Queue)
    follow: bool = True  # False: the videos of now only (a query that needs all its rows)

    def describe(self) -> str:
        """The table, its videos now, and the folder it follows."""
        return (f"WatchScan {self.table}: {len(self.videos)} videos from the catalog, then "
                f"each finished segment of {self.source} as it appears")

    @property
    def total(self) -> int:
        """Frames it will read: unknown, the folder grows (0)."""
        return 0

    def push(self, video: VideoRow, timestamps: np.ndarray) -> None:
        """Hand over a finished segment, added to the catalog as ``video``."""
        self.arrived.put((video, timestamps))

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """The rows of the videos now, then of each segment pushed, until the statement stops."""
        yield from FrameScan(self.table, self.videos, self.timestamps,
                             self.batch_size).batches(ctx)
        while self.follow and not ctx.stopping.is_set():
            try:
                video, timestamps = self.arrived.get(timeout=POLL_S)
            except Empty:
                continue
            yield from FrameScan(self.table, [video], {video.video_id: timestamps},
                                 self.batch_size).batches(ctx)


def live_scans(op: t.Any) -> list[LiveScanOp]:
    """The live scans under a physical operator."""
    return [o for o in walk(op) if isinstance(o, LiveScanOp)]


def watch_scans(op: t.Any) -> list[WatchScanOp]:
    """The scans of WATCH tables under a physical operator."""
    return [o for o in walk(op) if isinstance(o, WatchScanOp)]


def endless(op: t.Any) -> bool:
    """Whether a pipeline reads a live table or a WATCH table: it never ends by itself."""
    return bool(live_scans(op) or watch_scans(op))
