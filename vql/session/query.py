"""Running a query: optimize, plan physically, hand the pipelines to DuckDB as Arrow streams."""

from __future__ import annotations

import contextlib
import functools
import time
import typing as t
import warnings
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from vql import errors, memory
from vql.bind.statements import Query
from vql.catalog import VideoRow
from vql.errors import InfeasibleTargetError
from vql.exec import operators as ops
from vql.exec.context import ExecContext
from vql.exec.continuous import ContinuousRun, refusal
from vql.exec.live import endless, live_scans, watch_scans
from vql.exec.profile import walk
from vql.exec.progress import ProgressReporter
from vql.exec.result import Result
from vql.exec.runner import PipelineRun
from vql.optimize import optimize
from vql.physical.annotate import Placement
from vql.physical.cost import best_batch_size
from vql.physical.knobs import tunable
from vql.physical.planner import PhysicalPlanner
from vql.plan.nodes import ApplyUDF, Relational, VideoScan, chain
from vql.tune.live import live_refusal, live_scan, live_tuning
from vql.tune.observe import ReplayPlanner
from vql.tune.tuner import Tuner, Tuning
from vql.video.live import StreamEvent
from vql.video.probe import VideoProbe

if t.TYPE_CHECKING:
    from vql.session.engine import Engine

# DuckDB answers these pseudo-columns for statements that return no rows.
_NO_ROWS = {("Count",), ("Success",)}


@dataclass
class Planned:
    """A query ready to run: its plan, physical operators, and what the tuner decided."""

    plan: Relational
    operators: list[ops.Operator]
    tuning: Tuning | None = None
    warnings: list[str] = field(default_factory=list)
    placed: Relational | None = None  # the bound plan with its calls placed, before rewrites


def plan_query(engine: Engine, query: Query, explain: bool = False) -> Planned:
    """Lossless rules always; with a target, the cost-based choice of lossy knobs. Raises
    InfeasibleTargetError when no plan is estimated to meet the target (without BEST EFFORT),
    unless the plan is only to be explained: then the exact plan is shown with the reason."""
    started = time.perf_counter()
    placed = Placement(engine.registry, engine.measurements.profiles, engine.settings.device,
                       engine.settings.batch_size).plan(query.plan)
    plan = optimize(placed, engine.optimizer)
    tuning, notes = None, []
    scan = live_scan(plan)
    if query.options.has_targets:
        reason = tunable(plan)
        if reason is None and scan is not None:
            reason = live_refusal(plan, query.options)
            if reason is None:
                tuning = live_tuning(engine.services, plan, query.options, scan)
                plan = tuning.plan
        if reason is not None:
            notes.append(f"target WITH {query.options.target_text()} was not optimized for: "
                         f"{reason}; the query runs its exact plan")
        elif tuning is None:
            tuning = Tuner(engine.services, plan, query.options, started,
                           profile=not explain, progress=engine.progress_handler).tune()
            if tuning.chosen is None:
                message = (f"no plan is estimated to meet WITH {query.options.target_text()}: "
                           f"the fastest takes about {tuning.minimum_s:.2f} s"
                           + ("" if query.options.accuracy is None else
                              " and no profiled plan reaches the accuracy")
                           + "; add BEST EFFORT to run it anyway, or relax the target")
                if not explain:
                    raise InfeasibleTargetError(message)
                tuning.notes.append(message)
            if tuning.late is not None and not explain:
                notes.append(tuning.late)
            plan = tuning.plan
    picker = tuning.controller if tuning is not None else None
    batch = _batch_size(engine, plan)
    services = engine.services
    adapter = tuning.live if tuning is not None else None
    planner = PhysicalPlanner.of(services, picker=picker, batch_size=batch, adapter=adapter) \
        if tuning is None or tuning.trace is None else \
        ReplayPlanner.over(services, tuning.trace, batch_size=batch)  # the exact run, recorded
    return Planned(plan, [planner.plan(node) for node in plan.inputs], tuning, notes,
                   placed)


def run_query(engine: Engine, query: Query, planned: Planned | None = None) -> Result:
    """Run a bound query (planned now unless ``planned`` is given); its rows stream as
    they are read."""
    planned = planned or plan_query(engine, query)
    plan, operators = planned.plan, planned.operators
    memory.for_pipelines(any(isinstance(n, ApplyUDF) and n.call.cost_ms >= memory.HEAVY_MS
                             for node in plan.inputs for n in chain(node)))
    ctx = ExecContext(engine.settings, _reporter(engine, operators))
    archived: list[str] = []
    if any(endless(op) for op in operators):
        refused = refusal(plan.sql, operators)
        if refused is None or any(live_scans(op) for op in operators):
            return _run_live(engine, query, planned, ctx, refused)
        archived = _as_archive(operators)
    run = PipelineRun(engine.duck, ctx)

    def finish() -> None:
        run.close()
        _report_damage(engine, ctx.damaged)
        if planned.tuning is not None and ctx.failure is None:
            try:
                planned.tuning.check_drift(ctx.stats, engine.measurements)
            except duckdb.Error:
                return  # an aborted transaction: the profile stays; nothing else is lost

    try:
        run.register(operators)
        run.execute(plan.sql, plan.params)
        description = run.description()
        messages: list[tuple[type[errors.Warning], str] | str] = [
            (errors.FallbackWarning, n) for n in (*query.notices, *archived)]
        messages += planned.warnings
        if query.rowcount_from_result:
            rows = engine.duck.fetchall()
            finish()
            return Result(rowcount=int(rows[0][0]) if rows else -1, messages=messages,
                          stats=ctx.stats, tuning=planned.tuning)
        names = tuple(d[0] for d in description)
        if not description or query.returns_rows is False or (
                query.returns_rows is None and names in _NO_ROWS):
            engine.duck.fetchall()
            finish()
            return Result(messages=messages, stats=ctx.stats, tuning=planned.tuning)
        return Result(reader=run.stream(engine.settings.batch_size * 64),
                      description=description, messages=messages, stats=ctx.stats,
                      finish=finish, tuning=planned.tuning)
    except BaseException as error:
        finish()
        run.raise_translated(error)


def _as_archive(operators: list[ops.Operator]) -> list[str]:
    """Read the WATCH tables under ``operators`` as they are now (a query that needs all
    their rows); the notices that say so."""
    notes = []
    for op in operators:
        for scan in watch_scans(op):
            scan.follow = False
            notes.append(f"{scan.table} follows {scan.source}, but this query needs all its "
                         f"rows: it reads the {len(scan.videos)} segments finished so far")
    return notes


def _run_live(engine: Engine, query: Query, planned: Planned, ctx: ExecContext,
              refused: errors.Error | None) -> Result:
    """A statement over live tables: rows stream from its micro-batches until it is
    cancelled (Ctrl-C, ``cursor.close()``, the progress handler) or its LIMIT is reached."""
    if refused is not None:
        raise refused
    if query.returns_rows is False and not query.rowcount_from_result:
        raise errors.NotSupportedError(
            "a live table's rows never end: SELECT them, or INSERT INTO a table SELECT ... "
            "(which commits as it goes); CREATE TABLE ... AS and other statements over a "
            "stream are not supported")

    def record(table: str, events: list[StreamEvent]) -> None:
        engine.measurements.apart(
            functools.partial(engine.measurements.record_stream_events, table, events))

    def add(table: str, probes: list[VideoProbe]) -> list[VideoRow]:
        """A WATCH table's finished segments join it (committed: they are the table's now)."""
        with engine.atomic():
            engine.catalog.add_videos(table, probes)
        by_path = {v.path: v for v in engine.catalog.videos_of(table)}
        return [by_path[p.path] for p in probes]

    run = ContinuousRun(engine.duck, ctx, planned.operators, planned.plan.sql,
                        planned.plan.params, record, add)

    def finish() -> None:
        run.close()
        ctx.close()
        for view in run.views:
            with contextlib.suppress(duckdb.Error):
                engine.duck.unregister(view)

    try:
        schema, description = run.start()
        if query.rowcount_from_result:  # INSERT: runs until cancelled or its streams end
            run.run_to_end()
            finish()
            return Result(rowcount=run.emitted, stats=ctx.stats, tuning=planned.tuning,
                          live=run.streams)
    except BaseException:
        finish()
        raise
    messages: list[tuple[type[errors.Warning], str] | str] = [
        (errors.FallbackWarning, n) for n in query.notices]
    messages += planned.warnings
    return Result(reader=pa.RecordBatchReader.from_batches(schema, run.batches()),
                  description=description, messages=messages, stats=ctx.stats, finish=finish,
                  tuning=planned.tuning, live=run.streams)


def _report_damage(engine: Engine, damaged: dict[int, dict[str, set[int]]]) -> None:
    """Warn of frames the query skipped because they could not be decoded, and remember them
    in the catalog (committed apart: they are facts about the file)."""
    by_path: dict[str, set[int]] = {}
    for found in damaged.values():
        for path, frames in found.items():
            by_path.setdefault(path, set()).update(frames)
    damaged.clear()
    for path, frame_ids in sorted(by_path.items()):
        # The file's content as this transaction sees it (it may have loaded the file)
        content = engine.catalog.run("SELECT sha256 FROM vql_catalog.videos WHERE path = ?",
                                     [path])
        if content:
            engine.measurements.apart(functools.partial(
                engine.measurements.record_damaged, str(content[0][0]), frame_ids))
        warnings.warn(errors.DamagedVideoWarning(
            f"{path}: {len(frame_ids)} frame{'s' if len(frame_ids) != 1 else ''} could not be "
            f"decoded (the file is damaged there) and were skipped: frames "
            f"{_ranges(sorted(frame_ids))}; re-encode or repair the file to read them"),
            stacklevel=2)


def _ranges(numbers: list[int]) -> str:
    """'3-7, 12' for [3, 4, 5, 6, 7, 12] (at most 10 ranges, then how many more)."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    text = [f"{a}-{b}" if a != b else f"{a}" for a, b in spans[:10]]
    more = f" and {len(spans) - 10} more" if len(spans) > 10 else ""
    return ", ".join(text) + more


def _batch_size(engine: Engine, plan: Relational) -> int:
    """The measured best batch size for a plan over one video table, else the configured."""
    default = engine.settings.batch_size
    if len(plan.inputs) != 1:
        return default
    nodes = chain(plan.inputs[0])
    scan = nodes[0]
    calls = [n.call for n in nodes if isinstance(n, ApplyUDF)]
    if not isinstance(scan, VideoScan) or not calls:
        return default
    return best_batch_size(calls, engine.measurements.profiles(scan.table), default)


def _reporter(engine: Engine, operators: list[ops.Operator]) -> ProgressReporter | None:
    if engine.progress_handler is None:
        return None
    handler, interval = engine.progress_handler
    total = sum(o.total for op in operators for o in walk(op) if isinstance(o, ops.FrameScan))
    return ProgressReporter(handler, interval, total)
