"""The cost model: what a pipeline will cost on this machine, from measured profiles.

Each decision is a small pure function of numbers (STYLE.md #6), tested with tables of cases.
Estimates cover the video pipeline (decoding and functions); DuckDB's relational work and
predicate evaluation are not counted. A filter of unknown selectivity makes the estimate an
upper bound: it assumes every frame passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vql.catalog import Profile
from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    DiffGate,
    Fill,
    Filter,
    Limit,
    PlanNode,
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
    frames: int                 # frames entering decoding (after scan, sampling and a limit)
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


def estimate(pipeline: PlanNode, profiles: list[Profile],
             cached: Mapping[float, float] | None = None) -> Estimate:
    """What ``pipeline`` will cost. ``cached``: by decode scale, the share of the frames whose
    values the result cache holds for every function under the pipeline's ``Reuse``; those
    frames are neither decoded nor computed (``cache_shares``)."""
    nodes = chain(pipeline)
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
    lines, total, scale = [], 0.0, 1.0
    parts: list[tuple[str, float]] = []
    known, bound, upper = True, "", False
    filled = any(isinstance(n, Fill) for n in nodes)
    reuse_at = next((i for i, n in enumerate(nodes) if isinstance(n, Reuse)), len(nodes))
    decodes = [n for n in nodes if isinstance(n, Decode)]
    share = min(max((cached or {}).get(decodes[0].scale, 0.0), 0.0), 1.0) \
        if decodes and reuse_at < len(nodes) else 0.0
    for index, node in enumerate(nodes):
        # Below a Reuse, only the frames the cache lacks are decoded and computed.
        work = math.ceil(frames * (1 - share)) if index < reuse_at else frames
        if index == reuse_at and share > 0:
            lines.append(f"result cache: holds the values of about {share:.0%} of the frames, "
                         f"so the decoding and functions above run on "
                         f"{math.ceil(frames * (1 - share))} of {frames} frames")
        if isinstance(node, Filter) and not filled:
            bound = "≤ "  # operators above a filter of unknown selectivity: an upper bound
        elif isinstance(node, DiffGate):
            frames = math.ceil(frames * node.pass_rate)
            lines.append(f"difference cascade: about {node.pass_rate:.0%} of the decoded frames "
                         f"reach the functions (profiled): {frames} frames")
        elif isinstance(node, Fill):
            filled = False  # filters above a fill see every row; nothing costly follows them
        elif isinstance(node, Decode):
            scale = node.scale
            video_fps = scan.frames / scan.duration if scan.duration else 0.0
            pattern = decode_pattern(sample_fps, video_fps)
            profile = decode_cost(profiles, pattern, scale)
            where = f"decode ({pattern}, {resolution_name(scale)})"
            if profile is None and work == 0:  # every value is cached: nothing is decoded
                lines.append(f"{where}: 0 frames")
                continue
            if profile is None:
                known = False
                lines.append(f"{where}: {bound}{work} frames, cost unknown: "
                             f"run ANALYZE {scan.table}")
                continue
            seconds = work * profile.ms_per_frame / 1000
            total += seconds
            parts.append(("decode", seconds))
            upper |= bool(bound)
            lines.append(f"{where}: {bound}{work} frames × "
                         f"{profile.ms_per_frame:.3g} ms (measured) = {seconds:.2f} s")
        elif isinstance(node, ApplyUDF):
            ms, source = udf_cost(profiles, node.call, scale)
            seconds = work * ms / 1000
            total += seconds
            parts.append((node.call.column, seconds))
            upper |= bool(bound)
            lines.append(f"{node.call.text()}: {bound}{work} frames × "
                         f"{ms:.3g} ms ({source}) = {seconds:.2f} s")
    seconds_total = total if known else None
    summary = ("pipeline time: unknown (some costs are not measured)" if seconds_total is None
               else f"pipeline time: {'at most ' if upper else 'about '}{seconds_total:.2f} s")
    return Estimate(frames, seconds_total, upper, (*lines, summary), tuple(parts))


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
