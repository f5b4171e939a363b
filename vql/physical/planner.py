"""Map each logical node to a physical operator through a registry keyed by node type.

A builder gets the node and the operator already built for its child. The lossless choices
(the batch size, decord's own seeking for sampled frames, decoding ahead or in line) are made
here, on the device each call was given (``vql.kernels.placement``); the lossy ones (sampling
rate, resolution) arrive as plan nodes chosen by the tuner (``vql.tune.tuner``), and the
latency controller, if any, as ``picker`` (over a live table, ``adapter``).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import numpy as np

from vql.catalog import Catalog
from vql.catalog.results import ResultCache
from vql.errors import InternalError
from vql.exec import operators as ops
from vql.exec.adapt import LiveController
from vql.exec.live import LiveFramesOp, LiveScanOp, WatchScanOp
from vql.exec.live_fill import LiveFillOp
from vql.exec.prefetch import PrefetchOp
from vql.exec.profile import Measured, unwrap
from vql.exec.reuse import ReuseOp
from vql.functions.registry import FunctionRegistry
from vql.functions.spec import FrameFunction
from vql.memory import HEAVY_MS
from vql.plan import nodes as n
from vql.settings import Settings

if t.TYPE_CHECKING:
    from vql.services import Services


class PhysicalPlanner:
    """Builds the physical operators of a statement's pipelines from their logical nodes."""

    def __init__(self, catalog: Catalog, registry: FunctionRegistry, settings: Settings,
                 results: ResultCache, picker: ops.RatePicker | None = None,
                 ranges: dict[int, list[tuple[int, int]]] | None = None,
                 timestamps: dict[int, np.ndarray] | None = None,
                 batch_size: int | None = None, adapter: LiveController | None = None):
        self.catalog = catalog
        self.registry = registry
        self.settings = settings
        self.results = results        # the result cache a Reuse reads and writes
        self.picker = picker          # the latency controller of a controlled Fill
        self.adapter = adapter        # ... over a live table
        self.ranges = ranges          # scan only these frame ranges (the profiler's clips)
        self._timestamps = timestamps or {}
        self._built = 0
        self.row_limit: int | None = None  # the pipeline being planned stops after these rows
        self.model_heavy = False  # ... runs a function far costlier than decoding (a model)
        self.live = False  # ... reads a live table
        self.endless = False  # ... a live or WATCH table: it never ends
        self.batch_size = batch_size or settings.batch_size  # frames per batch in pipelines
        self.builders = PHYSICAL  # node type -> builder (a replay swaps some)

    @classmethod
    def of(cls, services: Services, **options: t.Any) -> PhysicalPlanner:
        """A planner for a statement of the database that ``services`` serve."""
        return cls(services.catalog, services.registry, services.settings, services.results,
                   **options)

    def plan(self, node: n.PlanNode, below: tuple[n.PlanNode, ops.Operator] | None = None
             ) -> ops.Operator:
        """The operator for ``node`` and its inputs. ``below``: a node and the operator that
        stands for it (a section fed by a Fill or a Reuse stops there)."""
        if below is not None and node is below[0]:
            return below[1]
        if isinstance(node, n.Project):  # a pipeline's root: how many rows it may need
            limits = [x.count for x in n.chain(node) if isinstance(x, n.Limit)]
            self.row_limit = min(limits) if limits else None
            self.model_heavy = any(isinstance(x, n.ApplyUDF) and x.call.cost_ms >= HEAVY_MS
                                   for x in n.chain(node))
            scan = n.chain(node)[0]
            self.live = isinstance(scan, n.VideoScan) and scan.live is not None
            self.endless = self.live or (isinstance(scan, n.VideoScan) and scan.watch is not None)
        kids = node.children()
        if isinstance(node, n.Fill) or not kids:
            return self.build(node, None)
        if isinstance(node, n.Reuse):  # its child is its section; it reads from the source
            if not self.results.enabled or not self._reusable(node):
                return self.plan(node.child, below)  # the functions run as if it were not there
            return self.build(node, self.plan(_decode_below(node).child, below))
        return self.build(node, self.plan(kids[0], below))

    def _reusable(self, node: n.Reuse) -> bool:
        """Whether the cache may serve the functions under ``node``. A stateful function's
        values hold only where it saw every frame of the video in order from the first: not
        under sampling or a cascade, nor on the profiler's clips."""
        below = n.chain(node)
        if not any(isinstance(x, n.ApplyUDF) and x.call.stateful for x in below):
            return True
        return self.ranges is None and not n.thinned(below)

    def build(self, node: n.PlanNode, child: ops.Operator | None) -> ops.Operator:
        """The operator for ``node`` over ``child``, from its type's builder, in a ``Measured``."""
        builder = self.builders.get(type(node))
        if builder is None:
            raise InternalError(f"no physical operator for logical node {type(node).__name__}")
        op = builder(self, node, child)
        return Measured(op, self.next_index())

    def next_index(self) -> int:
        """A new operator's number in EXPLAIN ANALYZE's statistics."""
        self._built += 1
        return self._built

    def timestamps(self, video_id: int) -> np.ndarray:
        """The presentation timestamps of a video's frames, read from the catalog once."""
        if video_id not in self._timestamps:
            self._timestamps[video_id] = self.catalog.timestamps(video_id)
        return self._timestamps[video_id]


def _scan(planner: PhysicalPlanner, node: n.VideoScan, _: None) -> ops.Operator:
    if node.live is not None:
        info = planner.catalog.live_source(node.table)
        settings = planner.settings
        return LiveScanOp(node.table, node.live, info.fps if info else 0.0, planner.batch_size,
                          settings.live_queue, settings.connect_timeout_s,
                          (info.width, info.height) if info else (0, 0))
    videos = planner.catalog.videos_of(node.table)
    timestamps = {v.video_id: planner.timestamps(v.video_id) for v in videos}
    if node.watch is not None:
        return WatchScanOp(node.table, node.watch, videos, timestamps, planner.batch_size)
    return ops.FrameScan(node.table, videos, timestamps, planner.batch_size,
                         planner.ranges)


def _sample(planner: PhysicalPlanner, node: n.Sample, child: ops.Operator) -> ops.Operator:
    if node.fill:
        raise InternalError("a filling Sample must sit below a Fill")
    # a live stream's sampled frames go on at once: a full batch would hold them back
    return ops.SampleOp(child, node.fps, planner.batch_size, regroup=not planner.endless)


def _decode(planner: PhysicalPlanner, node: n.Decode, child: ops.Operator) -> ops.Operator:
    if planner.live:
        return LiveFramesOp(child, node.scale)
    decode = ops.DecodeOp(child, planner.settings.decode_thread_count(), node.scale,
                          stop_read_ahead=planner.model_heavy)
    depth, batch = planner.settings.prefetch, planner.batch_size
    if depth <= 0 or (planner.row_limit is not None and planner.row_limit <= 4 * depth * batch):
        return decode  # a small LIMIT: decoding ahead would be mostly wasted
    if planner.model_heavy:
        # Decoding is a small share of a model's time, and a decoder thread of its own held
        # about 0.5 GB more at the peak (bench/memory.py: detection over the room video
        # 1.17 GB with it, 0.62 GB without, 6 % slower)
        return decode
    # Decoding runs ahead in a thread while the functions above run (both release the GIL).
    return PrefetchOp(Measured(decode, planner.next_index()), planner.settings.prefetch)


def _udf(planner: PhysicalPlanner, node: n.ApplyUDF, child: ops.Operator) -> ops.Operator:
    function = planner.registry.require(node.call.function)
    if not isinstance(function, FrameFunction):
        raise InternalError(f"{node.call.function} is not a frame function")
    return ops.UDFOp(child, node.call, function)


def _diff_gate(planner: PhysicalPlanner, node: n.DiffGate, child: ops.Operator
               ) -> ops.Operator:
    return ops.DiffGateOp(child, node.threshold)


def _filter(planner: PhysicalPlanner, node: n.Filter, child: ops.Operator) -> ops.Operator:
    return ops.FilterOp(child, node.predicate, node.params)


def _limit(planner: PhysicalPlanner, node: n.Limit, child: ops.Operator) -> ops.Operator:
    return ops.LimitOp(child, node.count)


def _project(planner: PhysicalPlanner, node: n.Project, child: ops.Operator) -> ops.Operator:
    return ops.ProjectOp(child, node.view, node.columns, node.encode_frame)


def _fill(planner: PhysicalPlanner, node: n.Fill, _: t.Any) -> ops.Operator:
    """The nodes between the Fill and its Sample become the section the FillOp feeds."""
    current = node.child
    while not (isinstance(current, n.Sample) and current.fill):
        if isinstance(current, n.Filter | n.Limit) or not current.children():
            raise InternalError(f"{current.label()} cannot sit between a Sample and its Fill")
        current = current.children()[0]
    source = planner.plan(current.child)
    feed = ops.FeedOp(source.schema)
    section = planner.plan(node.child, below=(current, feed))
    if planner.live:
        if planner.adapter is None:
            raise InternalError("a Fill over a live table needs its live controller")
        return LiveFillOp(source, section, feed, node.columns, planner.adapter)
    picker = planner.picker if node.controlled else None
    return ops.FillOp(source, section, feed, node.columns, current.fps,
                      planner.batch_size, picker)


def _decode_below(node: n.Reuse) -> n.Decode:
    current = node.child
    while not isinstance(current, n.Decode):
        if not isinstance(current, n.ApplyUDF):
            raise InternalError(f"{current.label()} cannot sit between a Decode and its Reuse")
        current = current.children()[0]
    return current


def _reuse(planner: PhysicalPlanner, node: n.Reuse, source: ops.Operator) -> ops.Operator:
    """The Decode and functions under the Reuse become the section it feeds with misses."""
    decode = _decode_below(node)
    feed = ops.FeedOp(source.schema, "the frames the cache does not hold")
    section = planner.plan(node.child, below=(decode.child, feed))
    calls = tuple(c.call for c in n.chain(node.child) if isinstance(c, n.ApplyUDF))
    scan = n.chain(decode)[0]
    assert isinstance(scan, n.VideoScan)
    contents = planner.catalog.video_contents(scan.table)
    cache = planner.results
    cached = {call.cache_key(): cache.load(call.cache_key(), list(set(contents.values())),
                                           decode.scale) for call in calls}
    fed = isinstance(unwrap(source), ops.FeedOp)  # inside a Fill's section
    lookahead = 0 if fed or planner.settings.prefetch <= 0 else 1
    # A stateful function's values are served only for videos the cache holds whole.
    whole = {v.video_id: v.frames for v in planner.catalog.videos_of(scan.table)} \
        if any(call.stateful for call in calls) else None
    return ReuseOp(source, section, feed, calls, cache, contents, decode.scale, cached,
                   lookahead, whole)


# _fill plans its own child (the section is built around a feed), so it is called with none.
PHYSICAL: dict[type, Callable[[PhysicalPlanner, t.Any, t.Any], ops.Operator]] = {
    n.VideoScan: _scan,
    n.Sample: _sample,
    n.Decode: _decode,
    n.ApplyUDF: _udf,
    n.Filter: _filter,
    n.Limit: _limit,
    n.Project: _project,
    n.Fill: _fill,
    n.DiffGate: _diff_gate,
    n.Reuse: _reuse,
}
