"""Accuracy profiling on clips (Chameleon): how accurate each knob value is for one query.

Short clips spread over the table are run with the reference configuration (every frame,
native resolution) and then with one knob changed at a time; each run's result (the query's
own SQL over the clip's rows) is scored against the reference's with the metric of the
result's shape (``vql.accuracy``). Configurations that change several knobs are estimated as
the product of the single-knob accuracies (Chameleon's knob-independence assumption), so the
profiler runs a number of configurations linear, not exponential, in the knob values.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import typing as t
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from vql.accuracy import accuracy, result_shape
from vql.catalog import AccuracyProfile, VideoRow
from vql.exec.context import ExecContext
from vql.exec.failures import guarded, translate
from vql.exec.profile import unwrap
from vql.physical.knobs import Config, configure
from vql.physical.planner import PhysicalPlanner
from vql.plan.nodes import ApplyUDF, Filter, Limit, Relational, Sample, VideoScan, chain

if t.TYPE_CHECKING:
    from vql.engine import Engine

CLIP_SECONDS = 20.0      # a clip's length when the budget allows
MIN_CLIP_SECONDS = 10.0  # shorter clips say too little about sampling
MAX_CLIPS = 8
MIN_CLIPS = 4
# Profiling runs the reference on the clips and on the spread frames, and each knob value once;
# in all it costs about this many runs of the exact plan over the clips (measured on the room
# video: 40 s for 4 clips of 10 s, whose exact run takes about 7 s).
RUNS_PER_REFERENCE = 6.0


@dataclass(frozen=True, slots=True)
class ClipPlan:
    count: int
    seconds: float


def minimal_profile_s(reference_s_per_video_s: float) -> float:
    """What the smallest useful accuracy profile costs (MIN_CLIPS clips of MIN_CLIP_SECONDS)."""
    return MIN_CLIPS * MIN_CLIP_SECONDS * reference_s_per_video_s * RUNS_PER_REFERENCE


def clip_plan(budget_s: float, reference_s_per_video_s: float, duration: float
              ) -> ClipPlan | None:
    """How many clips of what length fit the profiling budget, covering at most half of the
    table; None when even the smallest useful profile does not fit. A table too short for
    MIN_CLIPS clips of MIN_CLIP_SECONDS gets MIN_CLIPS shorter ones (rates too low for them
    stay unmeasured)."""
    per_clip_second = reference_s_per_video_s * RUNS_PER_REFERENCE
    if per_clip_second <= 0 or duration <= 0:
        return None
    half = duration * 0.5
    affordable = min(budget_s / per_clip_second, half)  # seconds of clips
    if affordable >= MAX_CLIPS * CLIP_SECONDS:
        return ClipPlan(MAX_CLIPS, CLIP_SECONDS)
    if half < MIN_CLIPS * MIN_CLIP_SECONDS and affordable >= half:
        return ClipPlan(MIN_CLIPS, half / MIN_CLIPS) if half / MIN_CLIPS >= 2 else None
    count = max(MIN_CLIPS, min(MAX_CLIPS, int(affordable // CLIP_SECONDS)))
    seconds = min(CLIP_SECONDS, affordable / count)
    if seconds < MIN_CLIP_SECONDS:
        return None
    return ClipPlan(count, seconds)


def clip_ranges(videos: list[VideoRow], timestamps: dict[int, np.ndarray], plan: ClipPlan,
                seed: str = "") -> dict[int, list[tuple[int, int]]]:
    """``plan.count`` clips as frame ranges per video, one placed at random in each of
    ``plan.count`` equal parts of the table's time (stratified: evenly spaced clips can all
    fall on the same phase of periodic content). ``seed`` makes the placement repeatable."""
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
    and the SQL over it, without targets, costs or internal view names."""
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
    sql = re.sub(r"__vql_in\d+", "<video>", plan.sql)
    sql = re.sub(r"__vql_(\w+?)_\d+", r"<\1>", sql)
    return " | ".join(parts) + f" || {sql} || {plan.params!r}"


class ClipProfiler:
    def __init__(self, engine: Engine, plan: Relational):
        self.engine = engine
        self.plan = plan
        scan = chain(plan.inputs[0])[0]
        assert isinstance(scan, VideoScan)
        self.scan = scan
        self.videos = engine.catalog.videos_of(scan.table)
        self.timestamps = {v.video_id: engine.catalog.timestamps(v.video_id)
                           for v in self.videos}

    def run(self, config: Config, ranges: dict[int, list[tuple[int, int]]]
            ) -> tuple[pa.Table, float, float | None, float | None]:
        """The query's result over the clips under ``config``, the seconds it took, how often
        consecutive processed frames disagreed (sampled configurations), and the share of
        decoded frames a cascade let through."""
        engine = self.engine
        pipeline = configure(self.plan.inputs[0], config) if not config.is_reference \
            else self.plan.inputs[0]
        planner = PhysicalPlanner(engine.catalog, engine.registry, engine.settings,
                                  ranges=ranges, timestamps=self.timestamps)
        op = planner.plan(pipeline)
        ctx = ExecContext(engine.settings)
        view = unwrap(op).view
        started = time.perf_counter()
        try:
            engine.duck.register(view, pa.RecordBatchReader.from_batches(
                op.schema, guarded(op, ctx)))
            engine.duck.execute(self.plan.sql, list(self.plan.params))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # DuckDB notes the copy into Arrow
                reader = engine.duck.to_arrow_reader(1 << 16)
            table = reader.read_all() if reader is not None else pa.table({})
        except BaseException as error:
            raised = translate(error, ctx)
            if raised is error:
                raise
            raise raised from error
        finally:
            with contextlib.suppress(Exception):  # an aborted transaction drops it anyway
                engine.duck.unregister(view)
            ctx.close()
        stats = ctx.stats
        passed = (max(stats.udf_frames.values()) / stats.frames_decoded
                  if config.diff is not None and stats.frames_decoded else None)
        return table, time.perf_counter() - started, stats.change_rate(), passed

    def measure(self, knob_values: list[Config], clips: ClipPlan) -> list[AccuracyProfile]:
        """The reference and each knob value, each knob on the sample that suits it: sampling
        rates on the clips (rates that would process fewer than two frames per clip stay
        unmeasured); resolutions on single frames spread over the whole table, as many as the
        clips hold, unless a function is stateful (it needs consecutive frames: clips)."""
        content = self.engine.catalog.content(self.scan.table)
        stateful = any(isinstance(n, ApplyUDF) and n.call.stateful
                       for n in chain(self.plan.inputs[0]))
        clip_spans = clip_ranges(self.videos, self.timestamps, clips, content)
        frames = sum(last - first for spans in clip_spans.values() for first, last in spans)
        samples = {"fps": (clip_spans, f"{clips.count} clips of {clips.seconds:.1f} s "
                                       f"({frames} frames)")}
        samples["diff"] = samples["fps"]  # a cascade compares consecutive frames
        if stateful:
            samples["scale"] = samples["fps"]
        else:
            spread = spread_ranges(self.videos, max(frames // 2, 1), content)
            count = sum(len(v) for v in spread.values())
            samples["scale"] = (spread, f"{count} frames spread over the table")
        shape = result_shape(self.plan)
        table = self.scan.table
        profiles = []
        for knob, (ranges, sample) in samples.items():
            chosen = [c for c in knob_values if knob_of(c)[0] == knob
                      and (c.fps is None or c.fps * clips.seconds >= 2)]
            if not chosen:
                continue
            reference, seconds, _, _ = self.run(Config(), ranges)
            count = sum(last - first for spans in ranges.values() for first, last in spans)
            profiles.append(AccuracyProfile(table, "", "reference", 0.0, 1.0, shape, seconds,
                                            count, sample, content))
            for config in chosen:
                result, seconds, change, passed = self.run(config, ranges)
                profiles.append(AccuracyProfile(table, "", knob, knob_of(config)[1],
                                                accuracy(shape, reference, result), shape,
                                                seconds, count, sample, content, change,
                                                passed))
        return profiles


def knob_of(config: Config) -> tuple[str, float]:
    """The knob a single-knob configuration changes, and its value."""
    if config.fps is not None:
        return "fps", config.fps
    if config.diff is not None:
        return "diff", config.diff
    return "scale", config.scale


def single_knob_values(configs: list[Config]) -> list[Config]:
    """The configurations that change exactly one knob from the reference."""
    return [c for c in configs
            if (c.fps is not None) + (c.scale != 1) + (c.diff is not None) == 1]


def combined_accuracy(config: Config, profiles: list[AccuracyProfile]) -> float | None:
    """A configuration's estimated accuracy: the product of its knobs' accuracies (1 for a
    knob at its reference value); None if a knob value was not measured. Fewer frames or
    pixels are assumed never to be more accurate, so a knob value's accuracy is the lowest
    measured at it or at any richer value of the same knob (a noisy high score at a low rate
    does not count)."""
    score = 1.0
    for knob, value in (("fps", config.fps), ("scale", config.scale), ("diff", config.diff)):
        if value is None or (knob == "scale" and value == 1):
            continue
        measured = [p for p in profiles if p.knob == knob]
        if not any(math.isclose(p.value, value) for p in measured):
            return None
        # A larger difference threshold skips more: it is the "poorer" direction for diff.
        richer = [p.accuracy for p in measured if (p.value <= value + 1e-9 if knob == "diff"
                                                   else p.value >= value - 1e-9)]
        score *= min(richer)
    return score


def pass_rate(config: Config, profiles: list[AccuracyProfile]) -> float:
    """The share of decoded frames a configuration's cascade lets through (1 without one)."""
    if config.diff is None:
        return 1.0
    found = [p.pass_rate for p in profiles if p.knob == "diff" and p.pass_rate is not None
             and math.isclose(p.value, config.diff)]
    return found[0] if found else 1.0
