"""Accuracy profiles from the exact run: the first query with a target costs what the exact
plan costs, and answers exactly.

A profile built on clips runs the exact plan and every knob value over them: several times
the exact plan's cost over the clips, which for a table shorter than a few minutes is more
than the exact plan over all of it (measured: 15.1 s against 3 s on the 30 s road video). So
a query WITH ACCURACY (or a COST that the exact plan fits) whose pipeline has no profile runs
the exact plan over everything it reads, once, keeping every frame's function values and a
thumbnail (``vql.exec.trace``). From that trace it

* answers the query exactly (the values were computed anyway), and
* replays every sampling rate and cascade threshold through the plan's own Fill, DiffGate,
  Filter and Limit operators, scoring each against the exact answer with the query's metric:
  a profile of everything the query reads, not of a sample of it.

For stateless functions a replay gives exactly what running the configuration gives (tested).
A stateful function (``motion``, ``moving_objects``) run at a lower rate sees only the frames
it processes, so a replay from values it computed seeing every frame says nothing about it
(measured: the road video's avg(vehicle_count) replayed at 0.25 FPS scored 0.90, run for real
0.0). For such a pipeline the first query only records the exact run, and the next one runs
the sampling rates for real (a bisection for the target's accuracy first, then cheapest
first), scoring them against that record, within what
the exact plan would take (``measure``): no query of the pipeline takes longer than its exact
plan, and from the third on it runs the chosen configuration. Resolutions are not replayed
(their values were not computed): they stay unprofiled until a query profiles on clips (a
LATENCY target).
"""

from __future__ import annotations

import time
import typing as t

from vql import memory
from vql.catalog import AccuracyProfile
from vql.errors import InternalError
from vql.exec import operators as ops
from vql.exec.context import ExecContext
from vql.exec.trace import Trace, TraceColumnOp, TraceThumbnailOp, record
from vql.functions.spec import FrameFunction
from vql.physical.choice import knob_of
from vql.physical.knobs import Config
from vql.physical.planner import PHYSICAL, PhysicalPlanner
from vql.plan import nodes as n
from vql.tune.clips import ClipProfiler

if t.TYPE_CHECKING:
    from vql.services import Services


REPLAY_BATCH = 1024  # rows per batch in a replay


class ReplayPlanner(PhysicalPlanner):
    """Plans a pipeline over a trace: lookups where it would decode and compute."""

    def __init__(self, *args: t.Any, trace: Trace, **kwargs: t.Any):
        super().__init__(*args, **kwargs)
        self.trace = trace
        self.builders = {**PHYSICAL, n.Decode: _replay_decode, n.ApplyUDF: _replay_function}

    @classmethod
    def over(cls, services: Services, trace: Trace, **options: t.Any) -> ReplayPlanner:
        """A replay planner over ``trace``'s frames, in large batches (nothing is decoded)."""
        # Nothing is decoded: large batches cost no memory and spare per-batch work (a
        # filter's DuckDB call); results do not depend on the batch size (tested).
        options["batch_size"] = max(options.get("batch_size") or 0, REPLAY_BATCH)
        return cls(services.catalog, services.registry, services.settings, services.results,
                   trace=trace, ranges=trace.ranges(), **options)

    def plan(self, node: n.PlanNode, below: tuple[n.PlanNode, ops.Operator] | None = None
             ) -> ops.Operator:
        if isinstance(node, n.Reuse):  # the trace holds every value the cache would
            return self.plan(node.child, below)
        return super().plan(node, below)


def _replay_decode(planner: PhysicalPlanner, node: n.Decode, child: ops.Operator
                   ) -> ops.Operator:
    assert isinstance(planner, ReplayPlanner)
    if node.scale != 1:
        raise InternalError("a trace holds values at native resolution only")
    return TraceThumbnailOp(child, planner.trace)


def _replay_function(planner: PhysicalPlanner, node: n.ApplyUDF, child: ops.Operator
                     ) -> ops.Operator:
    assert isinstance(planner, ReplayPlanner)
    function = planner.registry.require(node.call.function)
    if not isinstance(function, FrameFunction):
        raise InternalError(f"{node.call.function} is not a frame function")
    return TraceColumnOp(child, node.call.column, planner.trace, function.returns,
                         node.call.function)


def recording(pipeline: n.PlanNode) -> n.PlanNode:
    """The exact pipeline up to its last function, without the filters on function values
    (every frame's values are kept; the replays apply the filters), its limit, or a result
    cache read (the frames' pixels are needed for their thumbnails)."""
    nodes = n.chain(pipeline)
    columns = {x.call.column for x in nodes if isinstance(x, n.ApplyUDF)}
    kept = [x for x in nodes if not isinstance(x, n.Limit | n.Project | n.Reuse)
            and not (isinstance(x, n.Filter) and x.columns & columns)]
    return n.rebuild(kept)


def replayable(config: Config, trace: Trace) -> bool:
    """Whether a configuration can be replayed from ``trace``: rates and cascades at native
    resolution (a cascade needs the frames' thumbnails)."""
    return config.scale == 1 and (config.diff is None or trace.has_thumbnails)


def observe(services: Services, profiler: ClipProfiler, configs: list[Config],
            progress: t.Any = None) -> tuple[Trace, list[AccuracyProfile]]:
    """Record the exact run over everything the query reads, and profile every replayable
    configuration from it (none when a function is stateful; see the module docstring)."""
    from vql.accuracy import column_scores, lowest, result_shape, scored_columns

    plan = profiler.plan
    pipeline = plan.inputs[0]
    calls = [x.call for x in n.chain(pipeline) if isinstance(x, n.ApplyUDF)]
    ranges = {v.video_id: [(0, v.frames)] for v in profiler.videos}
    planner = PhysicalPlanner.of(services, ranges=ranges, timestamps=profiler.timestamps)
    op = planner.plan(recording(pipeline))
    memory.for_pipelines(any(c.cost_ms >= memory.HEAVY_MS for c in calls))
    ctx = ExecContext(services.settings, progress)
    started = time.perf_counter()
    stateful = any(c.stateful for c in calls)
    try:
        trace = record(op, Trace(tuple(c.column for c in calls), thumbnails=not stateful), ctx)
    finally:
        ctx.close()
    trace.seconds = time.perf_counter() - started

    if stateful:
        return trace, []
    shape = result_shape(plan)
    sample = (f"the exact run over all {trace.frames} frames the query reads (configurations "
              "replayed from it)")

    def replay(config: Config) -> tuple[t.Any, float, float | None, float | None]:
        return profiler.run(config, trace.ranges(), ReplayPlanner.over(services, trace))

    reference = replay(Config())[0]
    profiles = [_reference_row(profiler, trace, shape, sample)]
    scored = scored_columns(plan, reference.schema.names)
    content = profiles[0].content
    for config in configs:
        if config.is_reference or not replayable(config, trace) or config.changed != 1:
            continue
        result, seconds, change, passed = replay(config)
        scores = column_scores(shape, reference, result, scored)
        knob, value = knob_of(config)
        profiles.append(AccuracyProfile(profiler.scan.table, "", knob, value, lowest(scores),
                                        shape, seconds, trace.frames, sample, content, change,
                                        passed, config=config.key(),
                                        scores=tuple(scores.items())))
    return trace, profiles


def _reference_row(profiler: ClipProfiler, trace: Trace, shape: str, sample: str
                   ) -> AccuracyProfile:
    content = profiler.services.catalog.content(profiler.scan.table)
    return AccuracyProfile(profiler.scan.table, "", "reference", 0.0, 1.0, shape, trace.seconds,
                           trace.frames, sample, content, config=Config().key())


def measure(services: Services, profiler: ClipProfiler, trace: Trace, configs: list[Config],
            seconds_of: t.Callable[[Config], float], deadline: float,
            floor: float | None = None) -> list[AccuracyProfile]:
    """Run the sampling rates for real over everything the query reads while ``deadline`` (a
    ``time.perf_counter`` value) allows one more, each scored against the exact run ``trace``
    recorded (replayed, it is the exact answer). With an accuracy to reach (``floor``), the
    cheapest rate that reaches it is searched for first, by bisection (accuracy rises with the
    rate): cheapest first, a budget that fits four of six rates on the road video measured only
    those that miss 0.9 and the exact plan ran (2 FPS, which counts its four cars, was never
    tried). Then the other rates, cheapest first."""
    from vql.accuracy import column_scores, lowest, result_shape, scored_columns

    plan = profiler.plan
    shape = result_shape(plan)
    ranges = trace.ranges()
    reference = profiler.run(Config(), ranges, ReplayPlanner.over(services, trace))[0]
    scored = scored_columns(plan, reference.schema.names)
    rates = sorted((c for c in configs if c.changed == 1 and c.fps is not None),
                   key=seconds_of)
    ran: dict[int, tuple[Config, dict[str, float], float, float | None]] = {}

    def run(index: int) -> bool:
        """Run the rate ``rates[index]`` if the deadline allows; whether it ran."""
        config = rates[index]
        if time.perf_counter() + seconds_of(config) > deadline:
            return False
        result, seconds, change, _ = profiler.run(config, ranges)
        ran[index] = (config, column_scores(shape, reference, result, scored), seconds, change)
        return True

    low, high = 0, len(rates) - 1
    while floor is not None and low <= high:
        middle = (low + high) // 2
        if not run(middle):
            break
        if lowest(ran[middle][1]) >= floor:
            high = middle - 1
        else:
            low = middle + 1
    for index in range(len(rates)):
        if index not in ran and not run(index):
            break
    sample = (f"the exact run over all {trace.frames} frames the query reads; "
              f"{len(ran)} of {len(rates)} sampling rates run for real against it")
    profiles = [_reference_row(profiler, trace, shape, sample)]
    for index in sorted(ran):
        config, scores, seconds, change = ran[index]
        profiles.append(AccuracyProfile(profiler.scan.table, "", "fps", t.cast(float, config.fps),
                                        lowest(scores), shape, seconds, trace.frames, sample,
                                        profiles[0].content, change, None, config=config.key(),
                                        scores=tuple(scores.items())))
    return profiles
