"""The coordinator of a batch run: it owns the database, hands one video at a time to worker
processes (or runs them in line with one worker) and commits each video's results as it
arrives."""

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

from sqlglot import exp

from vql.api.connection import Connection
from vql.batch.jobs import Job, Outcome, process, quiet_worker
from vql.batch.ledger import DONE, FAILED, Ledger, RunSpec
from vql.errors import OperationalError, ProgrammingError
from vql.sql.dialect import VideoQuery
from vql.sql.parse import parse_one, split_statements
from vql.video.probe import expand_source, file_fingerprint


class RunStopped(OperationalError):
    """A batch run met an error that is not about a file (a query that cannot bind, a model
    that cannot load): it stops, keeping the videos it finished."""


# Output formats by file suffix; any other --out is a table name.
EXPORTS = {".parquet": "FORMAT PARQUET", ".csv": "FORMAT CSV, HEADER"}


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
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.done == 0:
            return None
        return self.elapsed / self.done * (self.total - self.done)


@dataclass
class RunReport:
    run: str
    table: str
    outputs: tuple[str, ...]
    files: tuple[str, ...] = ()     # written when the run finished
    videos: int = 0                 # files the glob matched
    skipped: int = 0                # finished by an earlier start and unchanged
    processed: int = 0              # finished by this start (failed ones included)
    failures: list[tuple[str, str]] = field(default_factory=list)  # every failed file, with why
    frames: int = 0
    seconds: float = 0.0
    interrupted: bool = False


ProgressCallback = Callable[[RunProgress], None]


class ArchiveRun:
    """``vql run``: the statements of ``query_file`` over every video ``videos`` names."""

    def __init__(self, connection: Connection, query_file: str | Path, videos: str, *,
                 table: str = "videos", out: str | None = None, workers: int = 1,
                 progress: ProgressCallback | None = None):
        self.connection = connection
        self.engine = connection._engine
        self.query_file = Path(query_file)
        self.videos = videos
        self.table = table
        self.workers = max(1, workers)
        self.progress = progress
        setup, queries = _statements(self.query_file)
        self.outputs, self.files = _outputs(out, self.query_file, len(queries))
        self.spec = RunSpec(str(self.query_file.resolve()), setup, queries, table, self.outputs)
        self.ledger = Ledger(self.engine.catalog, self.spec)

    def execute(self) -> RunReport:
        started = time.perf_counter()
        catalog = self.engine.catalog
        paths = expand_source(self.videos)
        with self.engine.atomic():
            if not catalog.is_video_table(self.table):
                catalog.create_video_table(self.table)
            self.ledger.start()
            finished = self.ledger.finished()
            for gone in sorted(set(finished) - set(paths)):  # no longer in the archive
                self._forget(gone)
        pending = [p for p in paths if finished.get(p) != file_fingerprint(p)]
        report = RunReport(self.spec.key, self.table, self.outputs, videos=len(paths),
                           skipped=len(paths) - len(pending))
        state = RunProgress(len(pending), 0, 0, 0, 0.0)
        outcomes = self._outcomes(pending)
        try:
            for outcome in outcomes:
                if outcome.fatal:  # not the file's fault: every video would fail the same way
                    raise RunStopped(f"the run stopped at {outcome.path}: {outcome.error} "
                                     f"({state.done} videos were finished and are kept)")
                self._commit(outcome)
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
        report.processed, report.frames = state.done, state.frames
        report.failures = self.ledger.failures()
        if not report.interrupted:
            with self.engine.atomic():
                self.ledger.close("finished with failures" if report.failures else "finished")
            report.files = self._export()
        report.seconds = time.perf_counter() - started
        return report

    # --- running -----------------------------------------------------------------------------

    def _jobs(self, paths: list[str]) -> Iterator[Job]:
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        for path in paths:
            yield Job(path, self.table, self.spec.setup, self.spec.queries, threads)

    def _outcomes(self, paths: list[str]) -> Generator[Outcome, None, None]:
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
                               rows, outcome.seconds)

    def _forget(self, path: str) -> None:
        for output in self.outputs:
            self.ledger.store(output, path, None)
        self.engine.catalog.run("DELETE FROM vql_catalog.run_videos WHERE run = ? AND path = ?",
                                [self.ledger.run, path])

    def _export(self) -> tuple[str, ...]:
        written = []
        existing = {n.lower() for n in self.engine.catalog.plain_tables()}
        for output, target in zip(self.outputs, self.files, strict=True):
            if target is None:
                continue
            how = EXPORTS[Path(target).suffix.lower()]
            if output.lower() in existing:
                source = f'SELECT * FROM "{output}" ORDER BY video_path, result_row'
            else:  # nothing succeeded: an empty file says so
                source = "SELECT NULL::VARCHAR AS video_path, NULL::BIGINT AS result_row LIMIT 0"
            escaped = target.replace("'", "''")
            self.engine.duck.execute(f"COPY ({source}) TO '{escaped}' ({how})").fetchall()
            written.append(target)
        return tuple(written)



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
             ) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """Result table names and files to export, one per query. ``out``: a .parquet or .csv
    file (its stem names the tables), a table name, or None (the query file's stem)."""
    target = Path(out) if out else None
    exported = target is not None and target.suffix.lower() in EXPORTS
    stem = (target.stem if exported else out) if target is not None else query_file.stem
    base = re.sub(r"\W", "_", str(stem)) or "results"
    if base[0].isdigit():
        base = f"results_{base}"
    names: tuple[str, ...]
    if count == 1:
        names = (base,)
        files: tuple[str | None, ...] = (str(target),) if exported else (None,)
    else:
        names = tuple(f"{base}_{i}" for i in range(1, count + 1))
        files = tuple(str(target.with_name(f"{target.stem}_{i}{target.suffix}"))
                      if exported and target is not None else None
                      for i in range(1, count + 1))
    return names, files


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
