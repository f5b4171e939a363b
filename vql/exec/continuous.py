"""Statements over live tables: pipelines that never end, their SQL run in micro-batches.

DuckDB reads a registered Arrow stream to its end before it returns a row (measured with
DuckDB 2.0: a filter over a slow stream gave its first row only after the stream's last
batch), so the SQL over a live table cannot be handed one endless stream. Instead each
pipeline runs in a thread of its own and hands its batches over a bounded queue; whenever
batches are there, the statement's SQL runs over just them (each pipeline's output view
registered as the rows that arrived, an empty table for a pipeline that gave none) and its rows
are yielded at once. This is what Spark's structured streaming calls micro-batches. It gives
the same rows as one run over the whole stream for SQL that works row by row; a GROUP BY a
window of ``ts`` holds rows until their window closes and runs over closed windows only; what
else needs the stream's end is refused with the reason (``streamable.py``). An ``INSERT ...
SELECT`` runs once per micro-batch or closed window, each committed on its own (autocommit),
so that a crash loses at most the open window and other connections read what was committed.

A pipeline thread waits when the queue is full; its live scan's own queue then drops the
oldest frames (``vql.video.live``): memory stays bounded whatever the stream's length.
"""

from __future__ import annotations

import queue
import threading
import time
import typing as t
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from vql.catalog import VideoRow
from vql.errors import NotSupportedError
from vql.exec import operators as ops
from vql.exec.context import ExecContext
from vql.exec.failures import guarded
from vql.exec.live import LiveScanOp, endless, live_scans, watch_scans
from vql.exec.live_fill import adapters
from vql.exec.profile import unwrap
from vql.exec.streamable import KEY_PATH, KEY_TS, stream_shape
from vql.video.live import StreamEvent
from vql.video.probe import VideoProbe
from vql.video.watch import SegmentWatcher

POLL_S = 0.1          # how long the consumer waits for batches before it checks again
QUEUED_BATCHES = 2    # batches a pipeline may have waiting, per pipeline
LATENCIES_KEPT = 2048  # row latencies kept for the percentiles
WATCH_EVERY_S = 1.0   # how often WATCH folders are looked at


def refusal(sql: str, operators: Sequence[ops.Operator]) -> NotSupportedError | None:
    """Why ``sql`` over these pipelines cannot run as a stream; None when it can."""
    views = {unwrap(op).view: op for op in operators}
    try:
        stream_shape(sql, {v for v, op in views.items() if endless(op)}, set(views))
    except NotSupportedError as error:
        return error
    return None


@dataclass
class StreamStats:
    """What a continuous statement has done with one live table's stream."""

    table: str
    fps: float = 0.0           # the stream's frame rate, as probed
    frames_in: int = 0         # frames the stream's reader decoded
    frames_dropped: int = 0    # ... dropped because the query could not keep up
    frames_processed: int = 0  # ... taken into the query's pipeline
    reconnects: int = 0
    latencies_s: list[float] = field(default_factory=list)  # frame arrival -> row out
    # under a target (``vql.exec.adapt``): the rate and resolution in force, the rows filled
    # from an earlier processed frame (of them, frames skipped for having waited too long),
    # and the estimated accuracy of the rows so far
    settings: str | None = None
    frames_filled: int = 0
    frames_late: int = 0
    accuracy: float | None = None

    @property
    def lag_s(self) -> float:
        """Seconds of video waiting in the stream's queue."""
        waiting = self.frames_in - self.frames_dropped - self.frames_processed
        return max(waiting, 0) / self.fps if self.fps > 0 else 0.0

    def describe(self) -> str:
        """One status line: frames in, processed and dropped, lag, latency p50/p99."""
        def seconds(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f} s"

        return (f"{self.table}: {self.frames_in} frames in, {self.frames_processed} "
                f"processed, {self.frames_dropped} dropped, lag {self.lag_s:.1f} s, latency "
                f"p50 {seconds(self.percentile(0.5))} p99 {seconds(self.percentile(0.99))}"
                + (f", {self.reconnects} reconnections" if self.reconnects else "")
                + ("" if self.settings is None else
                   f"; {self.settings}, {self.frames_filled} filled ({self.frames_late} late)"
                   + ("" if self.accuracy is None else
                      f", estimated accuracy {self.accuracy:.2f}")))

    def percentile(self, share: float) -> float | None:
        """The latency below which ``share`` of the recent rows came out; None before any."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


_END = object()

# The continuous statements running in this process, for ``vql watch``'s status lines
RUNNING: dict[int, ContinuousRun] = {}


class ContinuousRun:
    """One statement's live pipelines, run in threads, and its SQL run over each micro-batch
    on ``duck``. ``events`` is told of each stream's connection events, by table."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, ctx: ExecContext,
                 operators: Sequence[ops.Operator], sql: str, params: Sequence[t.Any],
                 events: Callable[[str, list[StreamEvent]], None] | None = None,
                 segments: Callable[[str, list[VideoProbe]], list[VideoRow]] | None = None):
        self.duck, self.ctx = duck, ctx
        self.operators = list(operators)
        self.sql, self.params = sql, list(params)
        self.events = events
        self.segments = segments  # adds a WATCH table's finished segments to the catalog
        self.views = {unwrap(op).view: op for op in self.operators}
        live = {view for view, op in self.views.items() if endless(op)}
        self.watchers = [(scan, SegmentWatcher(scan.source, {v.path for v in scan.videos}))
                         for op in self.operators for scan in watch_scans(op)]
        self._looked = 0.0  # when the WATCH folders were last looked at
        self.shape = stream_shape(sql, live, set(self.views))
        if self.shape.windows is not None and len(self.views) > 1:
            raise NotSupportedError("a GROUP BY window over a live table reads it alone: "
                                    "query each camera on its own")
        if self.shape.inserts and self.shape.limit is not None:
            raise NotSupportedError("INSERT ... SELECT from a live table runs until it is "
                                    "cancelled: a LIMIT in it would apply to each window")
        self.limit = self.shape.limit
        self.emitted = 0  # rows given (or inserted) so far
        self._held: list[pa.RecordBatch] = []  # rows of windows not closed yet
        # each pipeline's live scans, found once (the loop reads them every poll)
        self.scans = {view: live_scans(op) for view, op in self.views.items()}
        self.streams = {scan.table: StreamStats(scan.table, scan.fps)
                        for scans in self.scans.values() for scan in scans}
        self.adapters = {table: control for op in self.operators
                         for table, control in adapters(op).items()}
        self._queue: queue.Queue[tuple[str, t.Any]] = queue.Queue(
            QUEUED_BATCHES * max(len(self.operators), 1))
        self._running: set[str] = set()
        self._scanned = 0  # frames told to the progress handler
        self.description: tuple[tuple[t.Any, ...], ...] = ()  # PEP 249's, of the result

    def start(self) -> tuple[pa.Schema, tuple[tuple[t.Any, ...], ...]]:
        """Start the pipelines; the result's schema and PEP 249 description (from the SQL run
        over no rows)."""
        empty = self._run_sql({})
        description = self.description
        RUNNING[id(self)] = self
        for view, op in self.views.items():
            thread = threading.Thread(target=self._pump, args=(view, op), daemon=True,
                                      name=f"vql-pipeline {view}")
            self._running.add(view)
            self.ctx.threads.append(thread)
            thread.start()
        return empty.schema, description

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The statement's rows, a micro-batch at a time, until the LIMIT is reached, every
        pipeline has ended, or the reader stops reading."""
        while self._running and (self.limit is None or self.emitted < self.limit):
            arrived = self._collect()
            self._progress()
            self._watch()
            ready = self._ready(arrived)
            if ready:
                result = self._run_sql(ready)
                if self.shape.inserts:
                    self.emitted += sum(v or 0 for v in result.column(0).to_pylist())
                else:
                    if self.limit is not None:
                        result = result.slice(0, self.limit - self.emitted)
                    self.emitted += result.num_rows
                self._note_latency(ready)
                yield from result.to_batches()
            self._note_events()
        self._note_events()

    def run_to_end(self) -> None:
        """Run an INSERT ... SELECT (its result is only counts: ``emitted`` totals them)
        until it is cancelled or its streams end."""
        for _ in self.batches():
            continue  # each batch was inserted and committed as it was made

    def _watch(self) -> None:
        """Add the segments recorders finished to their tables, and hand them to the scans
        (at most once a second: a look lists the folder)."""
        if not self.watchers or time.monotonic() - self._looked < WATCH_EVERY_S:
            return
        self._looked = time.monotonic()
        for scan, watcher in self.watchers:
            found = watcher.poll()
            if not found:
                continue
            rows = self.segments(scan.table, found) if self.segments is not None else []
            for probe, row in zip(found, rows):
                scan.push(row, probe.timestamps)

    def _ready(self, arrived: dict[str, list[pa.RecordBatch]]
               ) -> dict[str, list[pa.RecordBatch]]:
        """What the SQL runs over now: what arrived, or under windows the rows of the
        windows that closed (held until then)."""
        windows = self.shape.windows
        if windows is None or not arrived:
            return arrived
        schema = self.views[windows.view].schema
        held = pa.Table.from_batches(self._held + arrived.get(windows.view, []), schema)
        self.duck.register(windows.view, held)
        params = self.params if windows.parameters else []
        keys = self.duck.sql(windows.keys_sql, params=params).to_arrow_table()
        if not keys.num_rows or not held.num_rows:
            return {}
        # the rows of the newest video (a WATCH table's newest segment; a stream's only one)
        newest_path = held.column("path")[-1].as_py()
        paths = keys.column(KEY_PATH).to_pylist()
        times = keys.column(KEY_TS).to_pylist()
        windows_of = list(zip(*(keys.column(i).to_pylist() for i in range(2, keys.num_columns))))
        mine = [i for i, p in enumerate(paths) if p in (newest_path, None)]
        if not mine:
            return {}  # nothing of the newest video has a window yet: hold on
        newest = windows_of[max(mine, key=lambda i: times[i])]
        # the open window starts at its first row; every row before it is of a closed one
        start = min(times[i] for i in mine if windows_of[i] == newest)
        mask = pc.or_(pc.not_equal(held.column("path"), pa.scalar(newest_path)),
                      pc.less(held.column("ts"), pa.scalar(float(start))))
        closed, still = held.filter(mask), held.filter(pc.invert(mask))
        self._held = still.to_batches()
        return {windows.view: closed.to_batches()} if closed.num_rows else {}

    def close(self) -> None:
        """Stop the pipelines (their threads end at their next poll) and their streams."""
        self.ctx.stopping.set()
        RUNNING.pop(id(self), None)
        self._note_events()

    # --- the pipeline threads ----------------------------------------------------------------

    def _pump(self, view: str, op: ops.Operator) -> None:
        batches = t.cast(t.Generator[pa.RecordBatch, None, None], guarded(op, self.ctx))
        try:
            for batch in batches:
                if not self._put((view, batch)):
                    return
            self._put((view, _END))
        except BaseException as error:  # raised to the reader, in its thread
            self._put((view, error))
        finally:
            batches.close()  # the scans close their streams now

    def _put(self, item: tuple[str, t.Any]) -> bool:
        while not self.ctx.stopping.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    # --- the consumer ------------------------------------------------------------------------

    def _collect(self) -> dict[str, list[pa.RecordBatch]]:
        """The batches that arrived (waiting up to POLL_S for the first), by view."""
        arrived: dict[str, list[pa.RecordBatch]] = {}
        try:
            item = self._queue.get(timeout=POLL_S)
        except queue.Empty:
            return arrived
        while True:
            view, value = item
            if value is _END:
                self._running.discard(view)
            elif isinstance(value, BaseException):
                raise value
            else:
                arrived.setdefault(view, []).append(value)
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return arrived

    def _progress(self) -> None:
        """Tell the progress handler (in the reader's thread, as sqlite3 calls it) of the
        frames read since; it may cancel the statement, while nothing comes too."""
        if self.ctx.progress is None:
            return
        scanned = self.ctx.stats.frames_scanned
        self.ctx.progress.advance(scanned - self._scanned)
        self._scanned = scanned

    def _run_sql(self, arrived: dict[str, list[pa.RecordBatch]]) -> pa.Table:
        for view, op in self.views.items():
            self.duck.register(view, pa.Table.from_batches(arrived.get(view, []), op.schema))
        # a relation, not execute(): its Arrow output is not copied (nor warned about)
        relation = self.duck.sql(self.sql, params=self.params)
        if relation is None:
            self.description = ()
            return pa.table({})
        self.description = tuple((d[0], str(d[1]), None, None, None, None, None)
                                 for d in relation.description)
        return relation.to_arrow_table()

    def _note_latency(self, arrived: dict[str, list[pa.RecordBatch]]) -> None:
        now = time.time()
        for view, batches in arrived.items():
            for scan in self.scans[view]:
                stats = self.streams[scan.table]
                for batch in batches:
                    for frame_id in batch.column("frame_id").to_pylist():
                        at = scan.arrived(frame_id)
                        if at is not None:
                            stats.latencies_s.append(now - at)
                del stats.latencies_s[:-LATENCIES_KEPT]

    def _note_events(self) -> None:
        for scans in self.scans.values():
            for scan in scans:
                self._note_scan(scan)

    def _note_scan(self, scan: LiveScanOp) -> None:
        source = scan.source
        if source is None:
            return
        stats = self.streams[scan.table]
        stats.frames_in = source.stats.frames_in
        stats.frames_dropped = source.stats.frames_dropped
        stats.frames_processed = scan.taken
        stats.reconnects = source.stats.reconnects
        control = self.adapters.get(scan.table)
        if control is not None:
            stats.settings = control.current.describe()
            stats.frames_filled, stats.frames_late = control.frames_filled, control.frames_late
            stats.accuracy = control.estimated_accuracy()
        found = source.events()
        if found and self.events is not None:
            self.events(scan.table, found)
