"""Targets on a live table: the plan that adapts while the stream runs (``vql.exec.adapt``).

An archive's tuner profiles stored video before the query; a stream has none to profile and
its content changes, so a live query's plan is the pipeline with a controlled sampling section
(``Sample`` ... ``Fill``) whose rate and resolution a ``LiveController`` picks as the frames
arrive, profiling the content on clips of the stream itself.
"""

from __future__ import annotations

import typing as t

from vql.accuracy import result_shape
from vql.bind.options import QueryOptions
from vql.exec.adapt import LiveController, live_options
from vql.physical import knobs
from vql.plan.nodes import ApplyUDF, Relational, VideoScan, chain
from vql.tune.tuner import Tuning

if t.TYPE_CHECKING:
    from vql.services import Services


def live_scan(plan: Relational) -> VideoScan | None:
    """The live table a single-pipeline plan reads, if it reads one."""
    if len(plan.inputs) != 1:
        return None
    scan = chain(plan.inputs[0])[0]
    return scan if isinstance(scan, VideoScan) and scan.live is not None else None


def live_refusal(plan: Relational, options: QueryOptions) -> str | None:
    """Why the target of a query over a live table cannot be adapted to; None when it can."""
    calls = [n.call for n in chain(plan.inputs[0]) if isinstance(n, ApplyUDF)]
    stateful = [c.function for c in calls if c.stateful]
    if stateful:
        return (f"{stateful[0]} is stateful and must see every frame in order, so the rate "
                "is not lowered")
    if options.latency_s is None and options.accuracy is None:
        return "COST is not a target for a live table (its frames never end)"
    return None


def live_tuning(services: Services, plan: Relational, options: QueryOptions,
                scan: VideoScan) -> Tuning:
    """The adapting plan for a target on live table ``scan`` and its controller."""
    info = services.catalog.live_source(scan.table)
    fps = info.fps if info is not None and info.fps > 0 else 25.0
    calls = [n.call for n in chain(plan.inputs[0]) if isinstance(n, ApplyUDF)]
    controller = LiveController(
        live_options(fps, knobs.user_sample(plan.inputs[0])), fps, options.latency_s,
        options.accuracy, cost_s=sum(c.cost_ms for c in calls) / 1000)
    notes = []
    if options.cost_usd is not None:
        notes.append("COST is not a target for a live table (its frames never end): ignored")
    adapting = knobs.apply(plan, knobs.Config(fps), controlled=True)
    return Tuning(adapting, None, (), result_shape(plan), True, 0.0, notes, live=controller)
