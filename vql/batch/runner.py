"""The coordinator of a batch run: it owns the database, hands one video at a time to worker
processes (or runs them in line with one worker), commits each video's results as it
arrives, and writes the results to the file ``out`` names when the run finishes."""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlglot import exp

from vql.api.connection import Connection
from vql.batch.jobs import Job, Outcome, process, quiet_worker, worker_connection
from vql.batch.knowledge import known, store
from vql.batch.ledger import DONE, FAILED, Ledger, RunSpec, quote_name
from vql.batch.on_ray import Placement, ray_outcomes, ray_placement
from vql.errors import OperationalError, ProgrammingError
from vql.sql.dialect import VideoQuery
from vql.sql.parse import parse_one, split_statements
from vql.video.probe import expand_source, file_fingerprint, probe


class RunStopped(OperationalError):
    """A batch run met an error that is not about a file (a query that cannot bind, a model
    that cannot load): it stops, keeping the videos it finished."""


# Output formats by file suffix; any other --out is a table name.
EXPORTS = {".parquet": "FORMAT PARQUET", ".csv": "FORMAT CSV, HEADER"}
# The columns a result file adds in front of the queries' own: the query's number in the query
# file (only when it holds several), the video, and the row's place in that video's result.
QUERY, VIDEO, ROW = "query", "video_path", "result_row"


@dataclass(frozen=True, slots=True)
class RunProgress:
    """Where a run stands, after each video."""

    total: int                 # videos this start processes (earlier starts' excluded)
    done: int                  # of them, finished (failed ones included)
    failed: int
    frames: int                # frames decoded so far
    elapsed: float             # seconds since this start
    last: str = ""             # the video just finished
    last_error: str | None = None

    @property
    def frames_per_second(self) -> float:
        """Frames decoded per second since this start (0.0 before any time has passed)."""
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Seconds until the rest are done at this start's pace per video; None before the
        first one finishes."""
        if self.done == 0:
            return None
        return self.elapsed / self.done * (self.total - self.done)


@dataclass
class RunReport:
    """What one start of a run did: videos matched, skipped, processed and failed, and where
    the results are."""

    run: str
    table: str
    outputs: tuple[str, ...]        # a result table per query
    files: tuple[str, ...] = ()     # the file written when the run finished (all queries)
    videos: int = 0                 # files the glob matched
    skipped: int = 0                # finished by an earlier start and unchanged
    processed: int = 0              # processed by this start, with results (failed: not counted)
    failures: list[tuple[str, str]] = field(default_factory=list)  # failed in this start, why
    frames: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    placement: str = ""             # where the videos ran, with --ray ("" in this machine)
    model_loads: int = 0            # models the workers loaded (each keeps its own)
    nodes: set[str] = field(default_factory=set)  # the Ray nodes that ran a video
    # each processed video's estimated accuracy (1.0 exact, None a lossy plan's not known)
    estimates: list[float | None] = field(default_factory=list)


    @property
    def lossy(self) -> int:
        """Processed videos whose results came from a lossy plan."""
        return sum(1 for e in self.estimates if e is None or e < 1.0)

    @property
    def accuracy(self) -> float | None:
        """The lowest estimated accuracy of a processed video's results; None when one lossy
        plan's is not known, or nothing was processed."""
        if not self.estimates or None in self.estimates:
            return None
        return min(e for e in self.estimates if e is not None)


ProgressCallback = Callable[[RunProgress], None]


class ArchiveRun:
    """``vql run``: the statements of ``query_file`` over every video ``videos`` names."""

    def __init__(self, connection: Connection, query_file: str | Path, videos: str, *,
                 table: str = "videos", out: str | None = None, workers: int = 1,
                 progress: ProgressCallback | None = None, ray: str | None = None):
        self.connection = connection
        self.engine = connection._engine
        self.query_file = Path(query_file)
        self.videos = videos
        self.table = table
        self.workers = max(1, workers)
        # Ray: "" starts a local instance, "auto" or an address attaches; None: no Ray
        self.ray = ray
        self.progress = progress
        setup, queries = _statements(self.query_file)
        self.outputs, self.file = _outputs(out, self.query_file, len(queries))
        self.spec = RunSpec(str(self.query_file.resolve()), setup, queries, table, self.outputs)
        self.ledger = Ledger(self.engine.catalog, self.spec)

    def execute(self) -> RunReport:
        """Run the statements over each video not finished unchanged before, committing each
        video's results; then, unless interrupted, write any ``--out`` file. The run's report."""
        started = time.perf_counter()
        catalog = self.engine.catalog
        paths = expand_source(self.videos)
        with self.engine.atomic():
            if not catalog.is_video_table(self.table):
                catalog.create_video_table(self.table)
            self.ledger.start()
            finished = self.ledger.finished()
            for gone in sorted(self.ledger.recorded() - set(paths)):  # no longer in the archive
                self._forget(gone)
        pending = [p for p in paths if finished.get(p) != file_fingerprint(p)]
        report = RunReport(self.spec.key, self.table, self.outputs, videos=len(paths),
                           skipped=len(paths) - len(pending))
        state = RunProgress(len(pending), 0, 0, 0, 0.0)
        outcomes = self._outcomes(pending, report)
        try:
            for outcome in outcomes:
                if outcome.fatal:  # not the file's fault: every video would fail the same way
                    raise RunStopped(f"the run stopped at {outcome.path}: {outcome.error} "
                                     f"({state.done} videos were finished and are kept)")
                self._commit(outcome)
                report.model_loads += outcome.loads
                if outcome.node:
                    report.nodes.add(outcome.node)
                if outcome.error is None:
                    report.estimates.append(outcome.accuracy)
                if outcome.error is not None:
                    report.failures.append((outcome.path, outcome.error))
                state = RunProgress(
                    state.total, state.done + 1, state.failed + (outcome.error is not None),
                    state.frames + outcome.frames, time.perf_counter() - started,
                    outcome.path, outcome.error)
                if self.progress is not None:
                    self.progress(state)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            outcomes.close()  # stops the workers now when the loop ended early
        report.processed, report.frames = state.done - state.failed, state.frames
        report.failures.sort()
        if not report.interrupted:
            with self.engine.atomic():
                self.ledger.close("finished with failures" if report.failures else "finished")
            report.files = self._export()
        report.seconds = time.perf_counter() - started
        return report

    # --- explaining --------------------------------------------------------------------------

    def explain(self) -> str:
        """What ``execute`` would do, run nothing and write nothing: the videos to process,
        where they would run (in this process, a process pool, or a Ray actor pool: actors,
        CPUs and GPUs each), and each query's plan as a worker would make it for the first
        of them, with what this database knows for it (the batch size, the device and the
        knobs come from the measured costs and profiles it would be sent)."""
        paths = expand_source(self.videos)
        finished = self.ledger.finished() if self.engine.catalog.is_video_table(self.table) \
            else {}
        pending = [p for p in paths if finished.get(p) != file_fingerprint(p)]
        lines = [f"run {self.spec.key}: {len(paths)} videos matched, {len(pending)} to process "
                 f"({len(paths) - len(pending)} finished earlier)", f"where: {self._where()}"]
        first = (pending or paths)[0]
        job = next(self._jobs([first]))
        cached = sum(len(c.frame_ids) for c in job.known.cache)
        lines.append(f"each video: a database in the worker holding that video alone, "
                     f"{job.threads} thread{'s' if job.threads != 1 else ''}; sent with it from "
                     f"this database: {len(job.known.profiles)} measured costs, {cached} cached "
                     f"values, {len(job.known.accuracy)} accuracy measurements (for {first})")
        with worker_connection(job, probe(first)) as con:
            for number, query in enumerate(self.spec.queries, 1):
                lines.append(f"== query {number} of {len(self.spec.queries)}, as a worker "
                             f"plans it for {Path(first).name} ==")
                lines.extend(str(row[-1]) for row in con.execute(f"EXPLAIN {query}").fetchall())
        return "\n".join(lines)

    def _where(self) -> str:
        if self.ray is not None:
            placement = ray_placement(self.ray or None, self.workers,
                                      self.engine.services.settings.device)
            started = "a local Ray instance started for the run" if not self.ray else \
                f"the Ray cluster at {self.ray}"
            return (f"a Ray actor pool of {placement.describe()} ({started}); each actor runs "
                    "whole videos one after another, keeping its models loaded; 2 videos "
                    "queued per actor at most")
        if self.workers == 1:
            return "this process, one video after another"
        return (f"a process pool of {self.workers} worker processes, each running whole videos "
                f"one after another (keeping its models loaded); {2 * self.workers} videos in "
                "flight at most")

    # --- running -----------------------------------------------------------------------------

    def _jobs(self, paths: list[str]) -> Iterator[Job]:
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        for path in paths:
            # what the database knows for it, read as the job is handed out
            yield Job(path, self.table, self.spec.setup, self.spec.queries, threads,
                      known(self.engine, self.table, path))

    def _outcomes(self, paths: list[str], report: RunReport) -> Generator[Outcome, None, None]:
        if self.ray is not None:
            def placed(placement: Placement) -> None:
                report.placement = placement.describe()

            yield from ray_outcomes(self._jobs(paths), self.workers, self.ray or None,
                                    self.engine.services.settings.device, placed)
            return
        if self.workers == 1:  # in this process: nothing to start, Ctrl-C stops it at once
            for job in self._jobs(paths):
                yield process(job)
            return
        jobs = self._jobs(paths)
        while True:  # a pool whose worker died is replaced, and the run goes on
            pool = ProcessPoolExecutor(self.workers, initializer=quiet_worker,
                                       mp_context=multiprocessing.get_context("spawn"))
            try:
                broken = yield from self._pooled(pool, jobs)
            except BaseException:
                _stop(pool)
                raise
            pool.shutdown(wait=True)
            if not broken:
                return

    def _pooled(self, pool: ProcessPoolExecutor, jobs: Iterator[Job]
                ) -> Generator[Outcome, None, bool]:
        """Outcomes as workers finish them; returns True when the pool broke (a worker died)."""
        running: dict[Future[Outcome], str] = {}

        def fill() -> None:
            while len(running) < 2 * self.workers:  # a bounded number of videos in flight
                job = next(jobs, None)
                if job is None:
                    return
                running[pool.submit(process, job)] = job.path

        fill()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                path = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    lost = [path, *running.values()]
                    for each in lost:  # which one crashed it is not known: all are retried later
                        yield Outcome(each, None, (), "the worker process died while this video "
                                      "was being processed (it, or another one in flight, "
                                      "crashed it)", 0, 0.0)
                    return True
            fill()
        return False

    def _commit(self, outcome: Outcome) -> None:
        """One transaction: the video in the video table, its results, and its record."""
        found = outcome.probe
        size, mtime = (found.size, found.mtime) if found is not None else \
            file_fingerprint(outcome.path)
        with self.engine.atomic():
            rows = 0
            if outcome.error is None and found is not None:
                self.engine.catalog.add_videos(self.table, [found])
                for output, result in zip(self.outputs, outcome.results, strict=True):
                    rows += self.ledger.store(output, outcome.path, result)
            else:
                for output in self.outputs:
                    self.ledger.store(output, outcome.path, None)
            status = DONE if outcome.error is None else FAILED
            self.ledger.record(outcome.path, size, mtime, status, outcome.error, outcome.frames,
                               rows, outcome.seconds, outcome.accuracy)
        # the costs the worker measured and the values it computed, each written apart
        store(self.engine, self.table, outcome.learned)

    def _forget(self, path: str) -> None:
        for output in self.outputs:
            self.ledger.store(output, path, None)
        self.engine.catalog.run("DELETE FROM vql_catalog.run_videos WHERE run = ? AND path = ?",
                                [self.ledger.run, path])

    def _export(self) -> tuple[str, ...]:
        """Write the results to ``self.file``, ordered by video and row: one query's as its
        table holds them; several queries' in one file, the columns of all of them (by name)
        after a ``query`` column holding the query's number (1 for the file's first query):
        what the user named, read by pandas or DuckDB as one table."""
        if self.file is None:
            return ()
        existing = {n.lower() for n in self.engine.catalog.plain_tables()}
        written = [(n, o) for n, o in enumerate(self.outputs, 1) if o.lower() in existing]
        several = len(self.outputs) > 1
        if several:
            self._check_query_column([o for _, o in written])
        selects = [f"SELECT {f'{number} AS {QUERY}, ' if several else ''}* FROM {quote_name(output)}"
                   for number, output in written]
        order = f"{QUERY + ', ' if several else ''}{VIDEO}, {ROW}"
        if not selects:  # nothing succeeded: an empty file says so
            selects = [f"SELECT {f'NULL::INTEGER AS {QUERY}, ' if several else ''}"
                       f"NULL::VARCHAR AS {VIDEO}, NULL::BIGINT AS {ROW} LIMIT 0"]
        source = f"{' UNION ALL BY NAME '.join(f'({q})' for q in selects)} ORDER BY {order}"
        how = EXPORTS[Path(self.file).suffix.lower()]
        escaped = self.file.replace("'", "''")
        try:
            self.engine.duck.execute(f"COPY ({source}) TO '{escaped}' ({how})").fetchall()
        except duckdb.Error as error:
            clashes = self._clashes(written)  # a column DuckDB cannot make one type of
            if clashes:
                raise ProgrammingError(
                    f"cannot write the results of the {len(self.outputs)} queries into one "
                    f"file {self.file!r}: {clashes}; rename the column in one of them (AS), or "
                    f"give --out a table name (the results are kept in the tables "
                    f"{', '.join(self.outputs)})") from error
            raise OperationalError(f"cannot write the results to {self.file!r}: {error} (they "
                                   f"are kept in the tables {', '.join(self.outputs)})") from error
        return (self.file,)

    def _columns(self, output: str) -> dict[str, str]:
        rows = self.engine.duck.execute(f"DESCRIBE {quote_name(output)}").fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    def _check_query_column(self, outputs: list[str]) -> None:
        for output in outputs:
            if QUERY in {c.lower() for c in self._columns(output)}:
                raise ProgrammingError(
                    f"query {self.outputs.index(output) + 1} has a column named {QUERY!r}, "
                    f"which the file {self.file!r} uses for the number of the query a row "
                    "comes from; rename it (AS) or write the results to a table (--out NAME)")

    def _clashes(self, written: list[tuple[int, str]]) -> str:
        """The columns whose type differs by query, in words ("" when none does). DuckDB
        unites some (INTEGER and DOUBLE, anything and VARCHAR), not others (a list and a
        number)."""
        types: dict[str, list[tuple[int, str]]] = {}
        for number, output in written:
            for column, kind in self._columns(output).items():
                types.setdefault(column, []).append((number, kind))
        return "; ".join(f"{column!r} is " + " and ".join(f"{kind} in query {number}"
                                                          for number, kind in kinds)
                         for column, kinds in types.items() if len({k for _, k in kinds}) > 1)


def _statements(query_file: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The file's statements: those that set up (CREATE FUNCTION ...) and the queries."""
    if not query_file.is_file():
        raise ProgrammingError(f"no such query file {str(query_file)!r}")
    setup: list[str] = []
    queries: list[str] = []
    for text in split_statements(query_file.read_text()):
        tree = parse_one(text)
        (queries if isinstance(tree, exp.Query | VideoQuery) else setup).append(text)
    if not queries:
        raise ProgrammingError(f"{str(query_file)!r} holds no query (SELECT ...) to run")
    return tuple(setup), tuple(queries)


def _outputs(out: str | None, query_file: Path, count: int
             ) -> tuple[tuple[str, ...], str | None]:
    """Result table names, one per query, and the file to write them all to (or None).
    ``out``: a .parquet or .csv file (its stem names the tables), a table name, or None (the
    query file's stem). Several queries get tables ``name_1``, ``name_2``, ..."""
    file = out if out is not None and Path(out).suffix.lower() in EXPORTS else None
    if out is not None and file is None and not re.fullmatch(r"\w+", out):
        raise ProgrammingError(f"--out {out!r} is neither a file to write (.parquet or .csv) "
                               "nor a table name (letters, digits and _)")
    if file is not None and not Path(file).parent.is_dir():
        raise ProgrammingError(f"--out {out!r}: the folder {str(Path(file).parent)!r} does "
                               "not exist")
    stem = Path(file).stem if file is not None else (out or query_file.stem)
    base = re.sub(r"\W", "_", stem) or "results"
    if base[0].isdigit():
        base = f"results_{base}"
    if count == 1:
        return (base,), file
    return tuple(f"{base}_{i}" for i in range(1, count + 1)), file


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, dropping what they were doing (Ctrl-C): what was committed stays.
    Python 3.14 has ProcessPoolExecutor.kill_workers; earlier ones keep the processes in a
    private attribute."""
    kill = getattr(pool, "kill_workers", None)
    if kill is not None:
        kill()
    else:
        for worker in list(getattr(pool, "_processes", {}).values()):
            worker.kill()
    pool.shutdown(wait=True, cancel_futures=True)
