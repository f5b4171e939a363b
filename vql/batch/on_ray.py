"""A batch run's videos as Ray tasks (``vql run ... --ray [ADDRESS]``).

Ray (Apache-2.0) is the distributed engine Python video pipelines use; VQL hands it the same
jobs the process pool gets (``vql.batch.jobs.process``: one video, the run's statements, and
what the database knows for it), so a video's results, its cached values and measured costs
come back to the coordinator, which stays the database's only writer and commits each video
as today: a rerun after a crash of the coordinator skips the finished videos.

* No address starts a local Ray instance with ``workers`` CPUs for the run, and stops it
  after; ``auto`` or ``ray://...`` / ``HOST:PORT`` attaches to a running cluster (left
  running).
* A task whose worker process or node dies is retried by Ray (``RETRIES`` times); a video
  whose task still fails is recorded as failed with the reason, and the next run tries it
  again. Its results are committed only from a finished task, so none is lost or doubled.
* Ctrl-C cancels the tasks in flight.

Not built yet: frame functions in actor pools that keep a model loaded across videos, and
EXPLAIN of the placement; each task loads its models once per video.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Generator, Iterator

from vql.batch.jobs import Job, Outcome, process
from vql.errors import MissingDependencyError

RETRIES = 2  # times Ray runs a video's task again when its worker process dies


def require_ray() -> t.Any:
    """The ``ray`` module, or a MissingDependencyError naming the extra to install."""
    try:
        import ray
    except ImportError as error:
        raise MissingDependencyError(
            "--ray needs Ray: pip install 'vql[ray]' (Apache-2.0)") from error
    return ray


def ray_outcomes(jobs: Iterator[Job], workers: int, address: str | None
                 ) -> Generator[Outcome, None, None]:
    """The outcomes of ``jobs`` as Ray tasks finish them, at most ``2 * workers`` in flight."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:  # a local instance for this run
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(process)
    running: dict[t.Any, str] = {}

    def fill() -> None:
        while len(running) < 2 * workers:
            job = next(jobs, None)
            if job is None:
                return
            running[task.remote(job)] = job.path

    try:
        fill()
        while running:
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                path = running.pop(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:  # its worker died every try
                    yield Outcome(path, None, (), f"its Ray task failed {RETRIES + 1} times "
                                  f"({type(error).__name__}: {str(error).splitlines()[0]})",
                                  0, 0.0)
            fill()
    finally:
        for ref in running:  # Ctrl-C, or the run stopped: nothing left running
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
