"""Statements over live tables: pipelines that never end, their SQL run in micro-batches.

DuckDB reads a registered Arrow stream to its end before it returns a row (measured with
DuckDB 2.0: a filter over a slow stream gave its first row only after the stream's last
batch), so the SQL over a live table cannot be handed one endless stream. Instead each
pipeline runs in a thread of its own and hands its batches over a bounded queue; whenever
batches are there, the statement's SQL runs over just them (each pipeline's output view
registered as the rows that arrived, an empty table for a pipeline that gave none) and its rows
are yielded at once. This is what Spark's structured streaming calls micro-batches. It gives
the same rows as one run over the whole stream for SQL that works row by row (projections,
filters, joins with stored tables, UNION ALL, a final LIMIT), and only for that: an ORDER BY,
an aggregate, DISTINCT, a window function or an OFFSET over a live table would need the
stream's end, and is refused with the reason (``check_streamable``).

A pipeline thread waits when the queue is full; its live scan's own queue then drops the
oldest frames (``vql.video.live``): memory stays bounded whatever the stream's length.
"""

from __future__ import annotations

import queue
import threading
import time
import typing as t
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from vql.errors import NotSupportedError
from vql.exec import operators as ops
from vql.exec.context import ExecContext
from vql.exec.failures import guarded
from vql.exec.live import LiveScanOp, live_scans
from vql.exec.profile import unwrap
from vql.video.live import StreamEvent

POLL_S = 0.1          # how long the consumer waits for batches before it checks again
QUEUED_BATCHES = 2    # batches a pipeline may have waiting, per pipeline
LATENCIES_KEPT = 2048  # row latencies kept for the percentiles


def check_streamable(sql: str, live_views: set[str], video_views: set[str]) -> int | None:
    """Raise ``NotSupportedError`` unless ``sql`` works row by row over the live views (see
    the module docstring; ``video_views``: every pipeline's view, live or not); returns the
    outermost LIMIT's count, if any."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    if not isinstance(tree, exp.Query):
        tree = tree.find(exp.Query) or tree  # INSERT INTO t SELECT ...: its query
    views = {v.lower() for v in live_views}
    live_tables = [x for x in tree.find_all(exp.Table) if x.name.lower() in views]
    for select in {id(s): s for x in live_tables for s in _selects_above(x)}.values():
        _check_select(select, select is tree)
    videos = {v.lower() for v in video_views}
    if any(_joins_live(s, views, videos) for s in tree.find_all(exp.Select)):
        raise NotSupportedError("a join of a live table with another video table is not "
                                "supported: their frames arrive at different times; UNION ALL "
                                "them, or join with a stored table")
    limit = tree.args.get("limit") if isinstance(tree, exp.Select | exp.Union) else None
    count = limit.expression if isinstance(limit, exp.Limit) else None
    if isinstance(count, exp.Literal) and count.this.isdigit():
        return int(count.this)
    return None


def _selects_above(node: exp.Expr) -> list[exp.Select]:
    found = []
    while node.parent is not None:
        node = node.parent
        if isinstance(node, exp.Select):
            found.append(node)
    return found


_NEEDS_THE_END = (
    ("group", "GROUP BY"), ("order", "ORDER BY"), ("distinct", "DISTINCT"),
    ("offset", "OFFSET"), ("having", "HAVING"), ("qualify", "QUALIFY"))


def _check_select(select: exp.Select, outermost: bool) -> None:
    for key, words in _NEEDS_THE_END:
        if select.args.get(key):
            raise NotSupportedError(
                f"{words} over a live table is not supported yet: a live table's rows never "
                f"end, and {words} needs them all; select rows as they come (add a LIMIT to "
                f"stop), or read a recording of the stream")
    if not outermost and select.args.get("limit"):
        raise NotSupportedError("a LIMIT inside a subquery over a live table is not supported: "
                                "put the LIMIT on the outermost query")
    for expression in select.expressions:
        own = [n for n in expression.walk() if isinstance(n, exp.AggFunc | exp.Window)
               and n.find_ancestor(exp.Select) is select]
        if own:
            raise NotSupportedError(
                f"{own[0].sql(dialect='duckdb')} over a live table is not supported yet: an "
                f"aggregate or window function needs every row, and a live table's rows never "
                f"end")


def _joins_live(select: exp.Select, live: set[str], videos: set[str]) -> bool:
    sources = [select.args.get("from_"), *(select.args.get("joins") or [])]
    named = [x.name.lower() for s in sources if s is not None for x in s.find_all(exp.Table)
             if x.name.lower() in videos]
    return len(named) > 1 and any(name in live for name in named)


@dataclass
class StreamStats:
    """What a continuous statement has done with one live table's stream."""

    table: str
    frames_in: int = 0         # frames the stream's reader decoded
    frames_dropped: int = 0    # ... dropped because the query could not keep up
    reconnects: int = 0
    latencies_s: list[float] = field(default_factory=list)  # frame arrival -> row out

    def percentile(self, share: float) -> float | None:
        """The latency below which ``share`` of the recent rows came out; None before any."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


_END = object()


class ContinuousRun:
    """One statement's live pipelines, run in threads, and its SQL run over each micro-batch
    on ``duck``. ``events`` is told of each stream's connection events, by table."""

    def __init__(self, duck: duckdb.DuckDBPyConnection, ctx: ExecContext,
                 operators: Sequence[ops.Operator], sql: str, params: Sequence[t.Any],
                 events: Callable[[str, list[StreamEvent]], None] | None = None):
        self.duck, self.ctx = duck, ctx
        self.operators = list(operators)
        self.sql, self.params = sql, list(params)
        self.events = events
        self.views = {unwrap(op).view: op for op in self.operators}
        live = {view for view, op in self.views.items() if live_scans(op)}
        self.limit = check_streamable(sql, live, set(self.views))
        self.emitted = 0
        self.streams = {scan.table: StreamStats(scan.table)
                        for op in self.operators for scan in live_scans(op)}
        self._queue: queue.Queue[tuple[str, t.Any]] = queue.Queue(
            QUEUED_BATCHES * max(len(self.operators), 1))
        self._running: set[str] = set()
        self._scanned = 0  # frames told to the progress handler

    def start(self) -> tuple[pa.Schema, tuple[tuple[t.Any, ...], ...]]:
        """Start the pipelines; the result's schema and PEP 249 description (from the SQL run
        over no rows)."""
        empty = self._run_sql({})
        description = tuple((d[0], str(d[1]), None, None, None, None, None)
                            for d in self.duck.description or ())
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
            if not arrived:
                self._note_events()
                continue
            result = self._run_sql(arrived)
            if self.limit is not None:
                result = result.slice(0, self.limit - self.emitted)
            self.emitted += result.num_rows
            self._note_latency(arrived)
            self._note_events()
            yield from result.to_batches()
        self._note_events()

    def close(self) -> None:
        """Stop the pipelines (their threads end at their next poll) and their streams."""
        self.ctx.stopping.set()
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DuckDB notes the copy into Arrow; it is small
            self.duck.execute(self.sql, self.params)
            return self.duck.to_arrow_table() if self.duck.description else pa.table({})

    def _note_latency(self, arrived: dict[str, list[pa.RecordBatch]]) -> None:
        now = time.time()
        for view, batches in arrived.items():
            for scan in live_scans(self.views[view]):
                stats = self.streams[scan.table]
                for batch in batches:
                    for frame_id in batch.column("frame_id").to_pylist():
                        at = scan.arrived(frame_id)
                        if at is not None:
                            stats.latencies_s.append(now - at)
                del stats.latencies_s[:-LATENCIES_KEPT]

    def _note_events(self) -> None:
        for op in self.operators:
            for scan in live_scans(op):
                self._note_scan(scan)

    def _note_scan(self, scan: LiveScanOp) -> None:
        source = scan.source
        if source is None:
            return
        stats = self.streams[scan.table]
        stats.frames_in = source.stats.frames_in
        stats.frames_dropped = source.stats.frames_dropped
        stats.reconnects = source.stats.reconnects
        found = source.events()
        if found and self.events is not None:
            self.events(scan.table, found)
