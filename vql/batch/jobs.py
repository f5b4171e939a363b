"""What a worker process does for one video: probe it, run the run's statements over it alone,
and send back its metadata and result tables (or the error that stopped it)."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from vql.api.connection import Connection
from vql.batch.knowledge import Knowledge, learned, seed
from vql.errors import (
    DeviceError,
    Error,
    MissingDependencyError,
    ModelError,
    ProgrammingError,
    VideoError,
)
from vql.models import MODELS
from vql.settings import Settings
from vql.video.probe import VideoProbe, probe


@dataclass(frozen=True, slots=True)
class Job:
    """One video for a worker: its path, the run's statements and the cores it may use."""

    path: str
    table: str                 # the video table's name, as the queries write it
    setup: tuple[str, ...]     # statements that return no rows (CREATE FUNCTION ...), run first
    queries: tuple[str, ...]   # statements whose rows are the run's results
    threads: int               # cores this worker may use
    known: Knowledge = Knowledge()  # the database's costs and cached values for it
    returns: bool = True       # False: the rows are not sent back (runner='ray' wants values)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker sends back for one video: its probe, result tables or error, and counts."""

    path: str
    probe: VideoProbe | None
    results: tuple[pa.Table, ...]
    error: str | None
    frames: int                # frames decoded for this video
    seconds: float
    fatal: bool = False        # the error is not the file's: every video would meet it
    learned: Knowledge = Knowledge()  # costs measured and values computed, to be stored
    loads: int = 0             # models this video's worker loaded for it (0: already loaded)
    # the results' estimated accuracy against exact plans: the lowest of the queries' (1.0
    # when every plan is exact), None when a lossy plan's is not known or the video failed
    accuracy: float | None = None
    node: str = ""             # the Ray node that ran it ("" off Ray)


# Errors that say nothing about the file (a statement that cannot bind, a missing model or
# device): the run stops instead of recording every video as failed.
FATAL = (ProgrammingError, ModelError, MissingDependencyError, DeviceError)


def quiet_worker() -> None:
    """A worker ignores Ctrl-C: the coordinator decides what stops, and stops the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def worker_connection(job: Job, found: VideoProbe) -> Iterator[Connection]:
    """The connection a worker runs ``job``'s queries on: a database in memory whose video
    table holds the one video (added from its probe, not probed again), seeded with what the
    coordinator sent, the run's setup statements run."""
    import vql

    # The queries of a run share one video's computed values (the tracks two questions are
    # about are computed once), and the database's, through the coordinator.
    settings = dataclasses.replace(Settings.from_env(), threads=job.threads)
    with vql.connect(":memory:", autocommit=True, settings=settings) as con:
        engine = con._engine
        engine.catalog.create_video_table(job.table)
        engine.catalog.add_videos(job.table, [found])
        seed(engine, job.table, found.sha256, job.known)
        cursor = con.cursor()
        for statement in job.setup:
            cursor.execute(statement)
        yield con


def process(job: Job) -> Outcome:
    """Run ``job``; any failure becomes the outcome's error (the run records it and goes on)."""
    started = time.perf_counter()
    found: VideoProbe | None = None
    frames = 0
    loads = MODELS.loads  # a worker keeps its models for its later videos
    try:
        found = probe(job.path)
        with worker_connection(job, found) as con:
            cursor = con.cursor()
            results = []
            estimates: list[float | None] = []
            for statement in job.queries:
                cursor.execute(statement)
                rows = cursor.fetch_arrow_table()
                if job.returns:
                    results.append(rows)
                estimates.append(cursor.estimated_accuracy)
                frames += cursor.stats.frames_decoded if cursor.stats else 0
            found_out = learned(con._engine, job.table, found.sha256, job.known)
        return Outcome(job.path, found, tuple(results), None, frames,
                       time.perf_counter() - started, learned=found_out,
                       loads=MODELS.loads - loads, accuracy=_lowest(estimates))
    except Exception as error:
        return Outcome(job.path, found, (), _reason(job.path, error), frames,
                       time.perf_counter() - started, fatal=isinstance(error, FATAL),
                       loads=MODELS.loads - loads)


def _lowest(estimates: list[float | None]) -> float | None:
    """The lowest estimate, None when one is not known."""
    known = [e for e in estimates if e is not None]
    return min(known) if known and len(known) == len(estimates) else None


def _reason(path: str, error: Exception) -> str:
    """Why the video failed, whole; a VideoError about the file itself without its "cannot
    read video PATH:" opening (the run lists each failure under its path)."""
    if isinstance(error, VideoError) and error.path == path:
        return error.reason
    return str(error) if isinstance(error, Error) else f"{type(error).__name__}: {error}"
