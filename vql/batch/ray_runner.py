"""``runner='ray'`` (``vql.connect(db, runner="ray")``, ``SET runner = 'ray'``): a query's
frame functions computed on a Ray actor pool, one video per actor at a time, before the query
runs in this process and reads them from the result cache (``vql/session/runners.py``).

Each video of the table the query reads becomes a job as in ``vql run --ray``: the query's own
text over a table holding that video alone, with what this database knows for it (measured
costs, cached values, accuracy profiles). The values the actor computed come back and are
stored here, so the query's run in this process decodes and computes only what no actor
could (a video that failed there is computed here, and named in ``cursor.runner``).

Not used (the query computes here, with a FallbackWarning saying why) for a query that reads
several video tables, a live or WATCH table, or has a target (its plan is chosen on the whole
table, not per video), or when the result cache is off. The query must name what it reads as
a worker can: a video table, built-in functions and functions its SQL defines; a function of
this database's own (CREATE FUNCTION) is not sent, and a video that needs one is computed here.

A Ray instance is started for each query with ``ray_address`` empty (about 3 s here), and
stopped after; ``SET ray_address = 'auto'`` (or an address) attaches to a running cluster.
"""

from __future__ import annotations

import os
import time
import typing as t

from vql.batch.jobs import Job
from vql.batch.knowledge import known, store
from vql.batch.on_ray import Placement, ray_outcomes, ray_placement
from vql.exec.result import RunnerReport
from vql.plan.nodes import ApplyUDF, VideoScan, chain
from vql.session.runners import RUNNERS

if t.TYPE_CHECKING:
    from vql.bind.statements import Query
    from vql.session.engine import Engine


def _scans(query: Query) -> list[VideoScan]:
    return [n for node in query.plan.inputs for n in chain(node) if isinstance(n, VideoScan)]


def _refusal(engine: Engine, query: Query) -> str | None:
    """Why the query's frame functions cannot be computed per video on Ray; None if they can."""
    scans = _scans(query)
    tables = {s.table.lower() for s in scans}
    if len(tables) > 1:
        return f"it reads {len(tables)} video tables (a runner computes one table's videos)"
    if any(s.live is not None or s.watch is not None for s in scans):
        return "it reads a live or WATCH table"
    if query.options.has_targets:
        return ("it has a target (WITH ...), whose plan is chosen on the whole table, not on "
                "each video")
    if not engine.results.enabled:
        return ("the result cache is off (VQL_CACHE_MB=0), and it is how the values computed "
                "on Ray reach this process")
    return None


def _computes(query: Query) -> bool:
    """Whether the query reads a video table and calls frame functions on it."""
    return any(isinstance(n, ApplyUDF) for node in query.plan.inputs for n in chain(node)) \
        and bool(_scans(query))


class RayRunner:
    """The ``ray`` runner (registered in ``vql.session.runners.RUNNERS``)."""

    def warm(self, engine: Engine, query: Query, sql: str) -> RunnerReport | str | None:
        """Run ``sql`` over each video of the table ``query`` reads on the actor pool, and
        store the values computed there; the report, why not, or None (nothing to do)."""
        if not _computes(query):
            return None  # nothing for a cluster to compute
        reason = _refusal(engine, query)
        if reason is not None:
            return reason
        table = _scans(query)[0].table
        paths = [video.path for video in engine.catalog.videos_of(table)]
        if not paths:
            return None
        started = time.perf_counter()
        jobs = (Job(path, table, (), (sql,), 1, known(engine, table, path), returns=False)
                for path in paths)
        placed: list[Placement] = []
        failed: list[tuple[str, str]] = []
        done = 0
        for outcome in ray_outcomes(jobs, None, engine.ray_address or None,
                                    engine.settings.device, placed.append):
            if outcome.error is not None:
                failed.append((outcome.path, outcome.error))
                if outcome.fatal:  # the same for every video: no use sending the others
                    break
                continue
            done += 1
            store(engine, table, outcome.learned)
        where = placed[0].describe() if placed else "Ray"
        return RunnerReport("ray", where, done, tuple(sorted(failed)),
                            time.perf_counter() - started)

    def explain(self, engine: Engine, query: Query) -> list[str]:
        """EXPLAIN's lines: where the query's frame functions would compute, or why not."""
        if not _computes(query):
            return ["nothing to compute ahead: the statement calls no frame function on a "
                    "video table"]
        reason = _refusal(engine, query)
        if reason is not None:
            return [f"not used: {reason}; the query computes in this process"]
        table = _scans(query)[0].table
        videos = len(engine.catalog.videos_of(table))
        address = engine.ray_address or None
        placement = ray_placement(address, _workers(address), engine.settings.device)
        started = "a local Ray instance started for the query" if address is None else \
            f"the Ray cluster at {address}"
        return [f"the query's frame functions over each of the {videos} videos of {table}, "
                f"one video per task, on an actor pool of {placement.describe()} ({started}); "
                "the values come back into the result cache, and the plans below run here "
                "and read them from it"]


def _workers(address: str | None) -> int | None:
    """The actors for a local instance: this machine's cores; for a cluster: its CPUs."""
    return (os.cpu_count() or 1) if address is None else None


RUNNERS["ray"] = RayRunner()
