"""Accuracy profiling on clips (Chameleon): how accurate each knob value is for one query.

Short clips spread over the table are run with the reference configuration (every frame,
native resolution) and then with one knob changed at a time; each run's result (the query's
own SQL over the clip's rows) is scored against the reference's with the metric of the
result's shape (``vql.accuracy``). Configurations that change several knobs are estimated as
the product of the single-knob accuracies (Chameleon's knob-independence assumption), so the
profiler runs a number of configurations linear, not exponential, in the knob values.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import typing as t
import zlib

import numpy as np
import pyarrow as pa

from vql.accuracy import column_scores, lowest, result_shape, scored_columns, scoring_sql
from vql.catalog import AccuracyProfile, VideoRow
from vql.exec.context import ExecContext
from vql.exec.runner import PipelineRun
from vql.physical.choice import ClipPlan, frontier, knob_of, single_knob_values
from vql.physical.knobs import Config, configure
from vql.physical.planner import PhysicalPlanner
from vql.plan.nodes import (
    ApplyUDF,
    Filter,
    Limit,
    PlanNode,
    Relational,
    Sample,
    VideoScan,
    chain,
)

if t.TYPE_CHECKING:
    from vql.services import Services

def extent_frames(pipeline: PlanNode) -> int | None:
    """How many leading frames of the table the pipeline reads at most: a LIMIT with no filter
    below it stops after its count (of sampled frames, with a user's SAMPLE); None when the
    pipeline may read every frame."""
    nodes = chain(pipeline)
    stride = 1.0
    for node in nodes:
        if isinstance(node, Filter):
            return None
        if isinstance(node, Sample) and not node.fill and math.isfinite(node.fps):
            scan = nodes[0]
            assert isinstance(scan, VideoScan)
            video_fps = scan.frames / scan.duration if scan.duration else node.fps
            stride = max(1.0, video_fps / node.fps)
        if isinstance(node, Limit):
            return math.ceil(node.count * stride)
    return None


def scoped(videos: list[VideoRow], timestamps: dict[int, np.ndarray], frames: int | None
           ) -> list[VideoRow]:
    """The table's videos cut to its first ``frames`` frames (all of them for None)."""
    if frames is None:
        return videos
    out = []
    for video in videos:
        if frames <= 0:
            break
        if video.frames > frames:
            ts = timestamps[video.video_id]
            end = float(ts[frames]) if frames < len(ts) else frames / video.fps
            video = dataclasses.replace(video, frames=frames, duration=end)
        out.append(video)
        frames -= video.frames
    return out


def clip_ranges(videos: list[VideoRow], timestamps: dict[int, np.ndarray], plan: ClipPlan,
                seed: str = "") -> dict[int, list[tuple[int, int]]]:
    """``plan.count`` clips as frame ranges per video, one placed at random in each of
    ``plan.count`` equal parts of the table's time (stratified: evenly spaced clips can all
    fall on the same phase of periodic content). ``seed`` makes the placement repeatable.
    A whole plan is every frame of ``videos``."""
    if plan.whole:
        return {v.video_id: [(0, v.frames)] for v in videos}
    spans = [(v, float(v.duration)) for v in videos]
    total = sum(d for _, d in spans)
    ranges: dict[int, list[tuple[int, int]]] = {}
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    for k in range(plan.count):
        at = total * (k + rng.uniform(0.1, 0.9)) / plan.count  # clip centres
        for video, duration in spans:
            if at < duration or video is spans[-1][0]:
                ts = timestamps[video.video_id]
                start = max(0.0, min(at - plan.seconds / 2, duration - plan.seconds))
                first = int(np.searchsorted(ts, start))
                last = int(np.searchsorted(ts, start + plan.seconds))
                if last > first:
                    ranges.setdefault(video.video_id, []).append((first, last))
                break
            at -= duration
    for video_id in ranges:
        ranges[video_id] = _merged(sorted(ranges[video_id]))
    return ranges


def spread_ranges(videos: list[VideoRow], count: int, seed: str = ""
                  ) -> dict[int, list[tuple[int, int]]]:
    """``count`` single frames, one at random in each of ``count`` equal parts of the table."""
    total = sum(v.frames for v in videos)
    rng = np.random.default_rng(zlib.crc32(seed.encode()) + 1)
    picks = sorted({min(int((k + rng.uniform()) * total / count), total - 1)
                    for k in range(min(count, total))})
    ranges: dict[int, list[tuple[int, int]]] = {}
    start = 0
    for video in videos:
        ranges[video.video_id] = [(p - start, p - start + 1) for p in picks
                                  if start <= p < start + video.frames]
        start += video.frames
    return {k: v for k, v in ranges.items() if v}


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for first, last in spans:
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def pipeline_key(plan: Relational) -> str:
    """What an accuracy profile is of: the pipeline's functions, predicates, sampling and limit
    and the SQL over it, without targets, costs, internal view names or the output columns no
    frame function feeds (``scoring_sql``)."""
    parts = []
    for node in chain(plan.inputs[0]):
        if isinstance(node, ApplyUDF):
            parts.append(node.call.text())
        elif isinstance(node, Filter):
            parts.append(f"WHERE {node.predicate} {node.params!r}")
        elif isinstance(node, Sample):
            parts.append(f"SAMPLE {node.fps:g}")
        elif isinstance(node, Limit):
            parts.append(f"LIMIT {node.count}")
    sql = re.sub(r"__vql_in\d+", "<video>", scoring_sql(plan))
    sql = re.sub(r"__vql_(\w+?)_\d+", r"<\1>", sql)
    return " | ".join(parts) + f" || {sql} || {plan.params!r}"


class ClipProfiler:
    """Runs one query's pipeline under knob configurations over parts of what it reads."""

    def __init__(self, services: Services, plan: Relational):
        self.services = services
        self.plan = plan
        scan = chain(plan.inputs[0])[0]
        assert isinstance(scan, VideoScan)
        self.scan = scan
        videos = services.catalog.videos_of(scan.table)
        self.timestamps = {v.video_id: services.catalog.timestamps(v.video_id) for v in videos}
        # Only the part of the table the query reads is profiled (a LIMIT reads the first rows).
        self.limit = extent_frames(plan.inputs[0])
        self.videos = scoped(videos, self.timestamps, self.limit)
        self._references: dict[str, tuple[pa.Table, float]] = {}

    def covers_extent(self, profiles: list[AccuracyProfile]) -> bool:
        """Whether ``profiles`` were measured on every frame the query reads."""
        extent = sum(v.frames for v in self.videos)
        return any(p.knob == "reference" and p.frames >= extent for p in profiles)

    @property
    def duration(self) -> float:
        """Seconds of video in the extent the query reads."""
        return sum(v.duration for v in self.videos)

    def reference(self, ranges: dict[int, list[tuple[int, int]]]) -> tuple[pa.Table, float]:
        """The reference result over ``ranges`` and its time (run once per sample)."""
        key = repr(sorted(ranges.items()))
        if key not in self._references:
            result, seconds, _, _ = self.run(Config(), ranges)
            self._references[key] = (result, seconds)
        return self._references[key]

    def run(self, config: Config, ranges: dict[int, list[tuple[int, int]]],
            planner: PhysicalPlanner | None = None
            ) -> tuple[pa.Table, float, float | None, float | None]:
        """The query's result over the clips under ``config``, the seconds it took, how often
        consecutive processed frames disagreed (sampled configurations), and the share of
        decoded frames a cascade let through. ``planner``: another way to build the
        operators (a replay of the exact run's trace)."""
        services = self.services
        pipeline = configure(self.plan.inputs[0], config) if not config.is_reference \
            else self.plan.inputs[0]
        planner = planner or PhysicalPlanner.of(services, ranges=ranges,
                                                timestamps=self.timestamps)
        op = planner.plan(pipeline)
        ctx = ExecContext(services.settings)
        run = PipelineRun(services.duck, ctx)
        started = time.perf_counter()
        try:
            run.register([op])
            run.execute(self.plan.sql, self.plan.params)
            table = run.stream(1 << 16).read_all()
        except BaseException as error:
            run.raise_translated(error)
        finally:
            run.close()
        stats = ctx.stats
        passed = (max(stats.udf_frames.values()) / stats.frames_decoded
                  if config.diff is not None and stats.frames_decoded else None)
        return table, time.perf_counter() - started, stats.change_rate(), passed

    def measure(self, configs: list[Config], clips: ClipPlan,
                seconds_of: t.Callable[[Config, list[AccuracyProfile]], float],
                deadline: float = math.inf) -> list[AccuracyProfile]:
        """The reference and each single knob value, each knob on the sample that suits it:
        sampling rates on the clips (rates that would process fewer than two frames per clip
        stay unmeasured); resolutions on single frames spread over the whole table, as many as
        the clips hold, unless a function is stateful (it needs consecutive frames: clips).

        Then, until ``deadline`` (a ``time.perf_counter`` value), the configurations that
        change several knobs and lie on the frontier of estimated time (``seconds_of``) against
        estimated accuracy are run on the clips, the cheapest first, until the frontier holds
        no unmeasured one: knob independence fails where errors compound (measured: 0.25 FPS
        at a quarter resolution over the first 400 frames of the room video scored 0.869
        where the product of its knobs said 0.925), and only frontier plans can be chosen."""
        content = self.services.catalog.content(self.scan.table)
        stateful = any(isinstance(n, ApplyUDF) and n.call.stateful
                       for n in chain(self.plan.inputs[0]))
        clip_spans = clip_ranges(self.videos, self.timestamps, clips, content)
        frames = sum(last - first for spans in clip_spans.values() for first, last in spans)
        where = (f"the first {frames} frames (all the query reads)" if self.limit is not None
                 else f"the whole table ({frames} frames)")
        samples = {"fps": (clip_spans, where if clips.whole else
                           f"{clips.count} clips of {clips.seconds:.1f} s ({frames} frames)")}
        samples["diff"] = samples["fps"]  # a cascade compares consecutive frames
        if stateful or clips.whole:
            samples["scale"] = samples["fps"]
        else:
            spread = spread_ranges(self.videos, max(frames // 2, 1), content)
            count = sum(len(v) for v in spread.values())
            samples["scale"] = (spread, f"{count} frames spread over the table")
        shape = result_shape(self.plan)
        profiles: list[AccuracyProfile] = []

        def record(knob: str, value: float, config: Config, ranges: dict[int, list[tuple[int, int]]],
                   sample: str) -> None:
            reference, seconds = self.reference(ranges)
            count = sum(last - first for spans in ranges.values() for first, last in spans)
            if not any(p.knob == "reference" and p.sample == sample for p in profiles):
                profiles.append(AccuracyProfile(self.scan.table, "", "reference", 0.0, 1.0,
                                                shape, seconds, count, sample, content,
                                                config=Config().key()))
            if config.is_reference:
                return
            result, seconds, change, passed = self.run(config, ranges)
            scores = column_scores(shape, reference, result,
                                   scored_columns(self.plan, reference.schema.names))
            profiles.append(AccuracyProfile(self.scan.table, "", knob, value, lowest(scores),
                                            shape, seconds, count, sample, content, change,
                                            passed, config=config.key(),
                                            scores=tuple(scores.items())))

        for config in single_knob_values(configs):
            knob, value = knob_of(config)
            ranges, sample = samples[knob]
            if config.fps is None or config.fps * clips.seconds >= 2:
                record(knob, value, config, ranges, sample)
        ranges, sample = samples["fps"]
        while time.perf_counter() < deadline:
            todo = [c for c in frontier(configs, profiles, seconds_of, not clips.whole)
                    if c.changed > 1
                    and not any(p.config == c.key() for p in profiles)]
            if not todo:
                break
            config = todo[0]  # the cheapest
            record("combined", 0.0, config, ranges, sample)
        return profiles
