"""The cost model: what a pipeline will cost on this machine, from measured profiles.

Each decision is a small pure function of numbers (STYLE.md #6), tested with tables of cases.
Estimates cover the video pipeline (decoding and functions); DuckDB's relational work and
predicate evaluation are not counted. A filter of unknown selectivity makes the estimate an
upper bound: it assumes every frame passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vql.catalog import Profile
from vql.errors import InternalError
from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    DiffGate,
    Fill,
    Filter,
    Limit,
    PlanNode,
    Project,
    Reuse,
    Sample,
    UDFCall,
    VideoScan,
    chain,
    profiles_of,
)

# Sampled frames sparser than this fraction of all frames are read by seeking.
SEEK_BELOW_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a pipeline will cost: the frames its functions see, the seconds, EXPLAIN's lines."""

    frames: int                 # frames reaching the functions (after sampling, a limit, a cascade)
    seconds: float | None       # None when some operator's cost is unknown
    upper_bound: bool           # an operator runs after a filter of unknown selectivity
    lines: tuple[str, ...]
    parts: tuple[tuple[str, float], ...] = ()  # ("decode" or a UDF's column, seconds)


def decode_pattern(sample_fps: float | None, video_fps: float) -> str:
    """How sampled frames are read: 'seek' when they are sparse, else 'sequential'."""
    if sample_fps is None or video_fps <= 0:
        return "sequential"
    return "seek" if sample_fps / video_fps < SEEK_BELOW_FRACTION else "sequential"


def sampled_frames(frames: int, duration: float, videos: int, fps: float) -> int:
    """Frames kept by SAMPLE fps: one per 1/fps seconds of each video, at most all of them."""
    return min(frames, int(duration * fps) + videos)


def resolution_name(scale: float) -> str:
    """How profiles name a decode resolution: 'native' or '0.5x'."""
    return "native" if scale == 1 else f"{scale:g}x"


def decode_cost(profiles: list[Profile], pattern: str, scale: float = 1.0) -> Profile | None:
    """The measured decode cost for ``pattern`` (seek or sequential) at ``scale``, or None."""
    matches = [p for p in profiles if p.operator == "decode" and p.variant == pattern
               and p.resolution == resolution_name(scale)]
    return matches[0] if matches else None


def udf_cost(profiles: list[Profile], call: UDFCall, scale: float,
             batch_size: int = 16) -> tuple[float, str]:
    """Milliseconds per frame of ``call`` on frames decoded at ``scale``: measured at that
    resolution (the batch size closest to the configured one) if profiled, else the call's
    own cost (measured at native resolution, or declared)."""
    matches = profiles_of(profiles, call.function, call.constants, call.device,
                          resolution_name(scale))
    if matches:
        best = min(matches, key=lambda p: abs(p.batch_size - batch_size))
        return best.ms_per_frame, "measured"
    if scale != 1:
        return call.cost_ms, f"{call.cost_source} at native resolution"
    return call.cost_ms, call.cost_source


def frames_read(nodes: list[PlanNode]) -> tuple[int, float | None]:
    """How many frames a pipeline (bottom-up ``nodes``) decodes before any cascade or cache,
    and its sampling rate (None: every frame): a SAMPLE thins them, and a LIMIT with no
    filter below caps them."""
    scan = nodes[0]
    assert isinstance(scan, VideoScan)
    frames, sample_fps = scan.frames, None
    for node in nodes:
        if isinstance(node, Sample) and not math.isinf(node.fps):
            sample_fps = node.fps if sample_fps is None else min(sample_fps, node.fps)
            frames = sampled_frames(frames, scan.duration, scan.videos, node.fps)
    filtered = any(isinstance(n, Filter) for n in nodes)  # then a limit caps nothing known
    limits = [n.count for n in nodes if isinstance(n, Limit)]
    if limits and not filtered:
        if any(isinstance(n, Sample) and n.fill for n in nodes):  # the limit counts all rows
            frames = min(frames, math.ceil(min(limits) * frames / max(scan.frames, 1)) + 1)
        else:
            frames = min(frames, min(limits))
    return frames, sample_fps


@dataclass
class _Walk:
    """What ``estimate`` has found so far, walking a pipeline bottom-up."""

    scan: VideoScan
    profiles: list[Profile]
    frames: int                     # frames reaching the current node
    sample_fps: float | None
    filled: bool                    # a Fill above: filters below it see sampled rows only
    work: int = 0                   # frames the current node processes (the cache's excluded)
    scale: float = 1.0              # the decode resolution
    bound: str = ""                 # "≤ " above a filter of unknown selectivity
    upper: bool = False             # some cost counted is an upper bound
    known: bool = True              # every cost counted was measured or declared
    total: float = 0.0
    lines: list[str] = field(default_factory=list)
    parts: list[tuple[str, float]] = field(default_factory=list)

    def add(self, part: str, seconds: float, line: str) -> None:
        self.total += seconds
        self.parts.append((part, seconds))
        self.upper |= bool(self.bound)
        self.lines.append(line)


def _filter(walk: _Walk, node: PlanNode) -> None:
    if not walk.filled:
        walk.bound = "≤ "  # operators above a filter of unknown selectivity: an upper bound


def _diff_gate(walk: _Walk, node: PlanNode) -> None:
    assert isinstance(node, DiffGate)
    walk.frames = math.ceil(walk.frames * node.pass_rate)
    walk.lines.append(f"difference cascade: about {node.pass_rate:.0%} of the decoded frames "
                      f"reach the functions (profiled): {walk.frames} frames")


def _fill(walk: _Walk, node: PlanNode) -> None:
    walk.filled = False  # filters above a fill see every row; nothing costly follows them


def _decode(walk: _Walk, node: PlanNode) -> None:
    assert isinstance(node, Decode)
    scan, work = walk.scan, walk.work
    walk.scale = node.scale
    video_fps = scan.frames / scan.duration if scan.duration else 0.0
    pattern = decode_pattern(walk.sample_fps, video_fps)
    profile = decode_cost(walk.profiles, pattern, node.scale)
    where = f"decode ({pattern}, {resolution_name(node.scale)})"
    if profile is None and work == 0:  # every value is cached: nothing is decoded
        walk.lines.append(f"{where}: 0 frames")
    elif profile is None:
        walk.known = False
        walk.lines.append(f"{where}: {walk.bound}{work} frames, cost unknown: "
                          f"run ANALYZE {scan.table}")
    else:
        seconds = work * profile.ms_per_frame / 1000
        walk.add("decode", seconds, f"{where}: {walk.bound}{work} frames × "
                 f"{profile.ms_per_frame:.3g} ms (measured) = {seconds:.2f} s")


def _apply(walk: _Walk, node: PlanNode) -> None:
    assert isinstance(node, ApplyUDF)
    ms, source = udf_cost(walk.profiles, node.call, walk.scale)
    seconds = walk.work * ms / 1000
    walk.add(node.call.column, seconds, f"{node.call.text()}: {walk.bound}{walk.work} "
             f"frames × {ms:.3g} ms ({source}) = {seconds:.2f} s")


def _free(walk: _Walk, node: PlanNode) -> None:
    """Scanning, sampling, a limit, the cache's lookup, the projection: no per-frame cost
    counted (the cache's share is applied by ``estimate``)."""


# What each node of a pipeline adds to the estimate (a node type missing is a bug).
STEPS: dict[type[PlanNode], Callable[[_Walk, PlanNode], None]] = {
    VideoScan: _free, Sample: _free, Limit: _free, Reuse: _free, Project: _free,
    Filter: _filter, DiffGate: _diff_gate, Fill: _fill, Decode: _decode, ApplyUDF: _apply,
}


def estimate(pipeline: PlanNode, profiles: list[Profile],
             cached: Mapping[float, float] | None = None) -> Estimate:
    """What ``pipeline`` will cost. ``cached``: by decode scale, the share of the frames whose
    values the result cache holds for every function under the pipeline's ``Reuse``; those
    frames are neither decoded nor computed (``cache_shares``)."""
    nodes = chain(pipeline)
    frames, sample_fps = frames_read(nodes)
    scan = nodes[0]
    assert isinstance(scan, VideoScan)
    walk = _Walk(scan, profiles, frames, sample_fps, any(isinstance(n, Fill) for n in nodes))
    reuse_at = next((i for i, n in enumerate(nodes) if isinstance(n, Reuse)), len(nodes))
    decodes = [n for n in nodes if isinstance(n, Decode)]
    share = min(max((cached or {}).get(decodes[0].scale, 0.0), 0.0), 1.0) \
        if decodes and reuse_at < len(nodes) else 0.0
    for index, node in enumerate(nodes):
        # Below a Reuse, only the frames the cache lacks are decoded and computed.
        walk.work = math.ceil(walk.frames * (1 - share)) if index < reuse_at else walk.frames
        if index == reuse_at and share > 0:
            walk.lines.append(f"result cache: holds the values of about {share:.0%} of the "
                              f"frames, so the decoding and functions above run on "
                              f"{math.ceil(walk.frames * (1 - share))} of {walk.frames} frames")
        step = STEPS.get(type(node))
        if step is None:
            raise InternalError(f"the cost model has no step for {type(node).__name__}")
        step(walk, node)
    seconds_total = walk.total if walk.known else None
    summary = ("pipeline time: unknown (some costs are not measured)" if seconds_total is None
               else f"pipeline time: {'at most ' if walk.upper else 'about '}"
               f"{seconds_total:.2f} s")
    return Estimate(walk.frames, seconds_total, walk.upper, (*walk.lines, summary),
                    tuple(walk.parts))


# A measured batch size replaces the configured one only when it is this much cheaper: the
# measurements are short (ANALYZE: the best of up to 3 runs over 32 frames), and noise should not
# move the batch size around (measured: FastestDet's curve is flat within 10 % here).
BATCH_GAIN = 0.15


def best_batch_size(calls: list[UDFCall], profiles: list[Profile], default: int) -> int:
    """The batch size at which the pipeline's functions cost least per frame in total, at
    native resolution, among the sizes measured for all of them (ANALYZE measures several);
    ``default`` unless another is at least BATCH_GAIN cheaper, or when fewer than two sizes
    were measured. Batching changes no result (functions see the same frames in order)."""
    costs: dict[int, float] | None = None
    for call in calls:
        measured = {p.batch_size: p.ms_per_frame for p in
                    profiles_of(profiles, call.function, call.constants, call.device, "native")}
        if costs is None:
            costs = measured
        else:
            costs = {size: ms + measured[size] for size, ms in costs.items() if size in measured}
    if not costs or len(costs) < 2:
        return default
    best = min(costs, key=lambda size: costs[size])
    if default in costs and costs[best] > costs[default] * (1 - BATCH_GAIN):
        return default
    return best


def cache_shares(pipeline: PlanNode, count: Callable[[UDFCall, float], int],
                 scales: tuple[float, ...]) -> dict[float, float]:
    """For ``estimate``: by decode scale, the share of the scan's frames whose values are
    cached for every function under the pipeline's Reuse (at most the smallest function's
    share). ``count(call, scale)``: the frames cached for a call on the table's videos. Empty
    when nothing is reused, or when frames are filtered or limited below the Reuse (the
    cached frames may not be the ones read)."""
    nodes = chain(pipeline)
    scan = nodes[0]
    reuse_at = next((i for i, n in enumerate(nodes) if isinstance(n, Reuse)), None)
    if reuse_at is None or not isinstance(scan, VideoScan) or scan.frames <= 0:
        return {}
    below = nodes[:reuse_at]
    if any(isinstance(n, Filter | Limit) for n in below):
        return {}
    calls = [n.call for n in below if isinstance(n, ApplyUDF)]
    if not calls:
        return {}
    return {scale: min(count(call, scale) for call in calls) / scan.frames for scale in scales}
