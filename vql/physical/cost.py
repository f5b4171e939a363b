"""The cost model: what a pipeline will cost on this machine, from measured profiles.

Each decision is a small pure function of numbers (STYLE.md #6), tested with tables of cases.
Estimates cover the video pipeline (decoding and functions); DuckDB's relational work and
predicate evaluation are not counted. A filter of unknown selectivity makes the estimate an
upper bound: it assumes every frame passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from vql.catalog import Profile
from vql.plan.nodes import ApplyUDF, Decode, Filter, Limit, PlanNode, Sample, VideoScan, chain

# Sampled frames sparser than this fraction of all frames are read by seeking.
SEEK_BELOW_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class Estimate:
    frames: int                 # frames entering decoding (after scan, sampling and a limit)
    seconds: float | None       # None when some operator's cost is unknown
    upper_bound: bool           # an operator runs after a filter of unknown selectivity
    lines: tuple[str, ...]


def decode_pattern(sample_fps: float | None, video_fps: float) -> str:
    """How sampled frames are read: 'seek' when they are sparse, else 'sequential'."""
    if sample_fps is None or video_fps <= 0:
        return "sequential"
    return "seek" if sample_fps / video_fps < SEEK_BELOW_FRACTION else "sequential"


def sampled_frames(frames: int, duration: float, videos: int, fps: float) -> int:
    """Frames kept by SAMPLE fps: one per 1/fps seconds of each video, at most all of them."""
    return min(frames, int(duration * fps) + videos)


def decode_cost(profiles: list[Profile], pattern: str) -> Profile | None:
    matches = [p for p in profiles if p.operator == "decode" and p.variant == pattern]
    return matches[0] if matches else None


def estimate(pipeline: PlanNode, profiles: list[Profile]) -> Estimate:
    nodes = chain(pipeline)
    scan = nodes[0]
    assert isinstance(scan, VideoScan)
    frames, sample_fps = scan.frames, None
    for node in nodes:
        if isinstance(node, Sample):
            sample_fps = node.fps
            frames = sampled_frames(frames, scan.duration, scan.videos, node.fps)
    filtered = any(isinstance(n, Filter) for n in nodes)  # then a limit caps nothing known
    limits = [n.count for n in nodes if isinstance(n, Limit)]
    if limits and not filtered:
        frames = min(frames, min(limits))
    lines, total = [], 0.0
    known, bound, upper = True, "", False
    for node in nodes:
        if isinstance(node, Filter):
            bound = "≤ "  # operators above a filter of unknown selectivity: an upper bound
        elif isinstance(node, Decode):
            video_fps = scan.frames / scan.duration if scan.duration else 0.0
            pattern = decode_pattern(sample_fps, video_fps)
            profile = decode_cost(profiles, pattern)
            if profile is None:
                known = False
                lines.append(f"decode ({pattern}): {bound}{frames} frames, cost unknown: "
                             f"run ANALYZE {scan.table}")
                continue
            seconds = frames * profile.ms_per_frame / 1000
            total += seconds
            upper |= bool(bound)
            lines.append(f"decode ({pattern}): {bound}{frames} frames × "
                         f"{profile.ms_per_frame:.3g} ms (measured) = {seconds:.2f} s")
        elif isinstance(node, ApplyUDF):
            seconds = frames * node.call.cost_ms / 1000
            total += seconds
            upper |= bool(bound)
            lines.append(f"{node.call.text()}: {bound}{frames} frames × "
                         f"{node.call.cost_ms:.3g} ms ({node.call.cost_source}) = {seconds:.2f} s")
    seconds_total = total if known else None
    summary = ("pipeline time: unknown (some costs are not measured)" if seconds_total is None
               else f"pipeline time: {'at most ' if upper else 'about '}{seconds_total:.2f} s")
    return Estimate(frames, seconds_total, upper, (*lines, summary))
