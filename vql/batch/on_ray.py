"""A batch run's videos on a Ray actor pool (``vql run ... --ray [ADDRESS]``).

Ray (Apache-2.0) is the distributed engine Python video pipelines use. VQL starts a pool of
actors, each a worker process that runs whole videos one after another with the job the
process pool gets (``vql.batch.jobs.process``: one video, the run's statements, and what the
database knows for it). An actor keeps what it loaded (a detector, in the process-wide model
cache) for every later video it runs, so a model loads once per actor, not once per video.
A video's results, its cached values and measured costs come back to the coordinator, which
stays the database's only writer and commits each video as today: a rerun after a crash of
the coordinator skips the finished videos.

* No address starts a local Ray instance with ``workers`` CPUs for the run, and stops it
  after; ``auto`` or ``ray://...`` / ``HOST:PORT`` attaches to a running cluster (left
  running).
* The pool has ``workers`` actors of one CPU each; an actor asks for a GPU when the cluster
  has GPUs and the device setting allows CUDA (``VQL_DEVICE`` not ``cpu``), and then there
  are no more actors than GPUs.
* An actor whose process or node dies is restarted by Ray, and the video it was running is
  run again on it (``RETRIES`` times); a video that still fails is recorded as failed with the
  reason, and the next run tries it again. Results are committed only from a finished video,
  so none is lost or doubled.
* Ctrl-C stops the actors.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from vql.batch.jobs import Job, Outcome, process
from vql.errors import MissingDependencyError

RETRIES = 2  # times a video runs again when its actor's process dies


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a run's videos go on Ray: how many actors, and what each one holds."""

    actors: int
    cpus: float     # per actor
    gpus: float     # per actor
    nodes: int      # alive nodes of the cluster when the run started

    def describe(self) -> str:
        """``2 actors (1 CPU each) on 2 Ray nodes``."""
        held = f"{self.cpus:g} CPU" + (f", {self.gpus:g} GPU" if self.gpus else "")
        return (f"{self.actors} actor{'s' if self.actors != 1 else ''} ({held} each) on "
                f"{self.nodes} Ray node{'s' if self.nodes != 1 else ''}")


def require_ray() -> t.Any:
    """The ``ray`` module, or a MissingDependencyError naming the extra to install."""
    try:
        import ray
    except ImportError as error:
        raise MissingDependencyError(
            "--ray needs Ray: pip install 'vql[ray]' (Apache-2.0)") from error
    return ray


def place(resources: dict[str, float], nodes: int, workers: int, device: str) -> Placement:
    """The pool for a cluster with ``resources`` (Ray's ``cluster_resources()``): ``workers``
    one-CPU actors, each with a GPU when the cluster has them and ``device`` allows CUDA."""
    gpus = float(resources.get("GPU", 0.0))
    if gpus >= 1 and device in ("auto", "cuda"):
        return Placement(max(1, min(workers, int(gpus))), 1.0, 1.0, nodes)
    return Placement(max(1, workers), 1.0, 0.0, nodes)


class VideoWorker:
    """A Ray actor: runs videos one after another in one process, keeping loaded models."""

    def run(self, job: Job) -> Outcome:
        return process(job)


def ray_outcomes(jobs: Iterator[Job], workers: int, address: str | None, device: str = "auto",
                 placed: t.Callable[[Placement], None] | None = None
                 ) -> Generator[Outcome, None, None]:
    """The outcomes of ``jobs`` as the pool's actors finish them, two videos queued per
    actor at most; ``placed`` hears the pool chosen before the first video starts."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:  # a local instance for this run
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    alive = sum(1 for node in ray.nodes() if node.get("Alive"))
    placement = place(ray.cluster_resources(), alive, workers, device)
    if placed is not None:
        placed(placement)
    actor = ray.remote(num_cpus=placement.cpus, num_gpus=placement.gpus,
                       max_restarts=RETRIES, max_task_retries=RETRIES)(VideoWorker)
    pool = [actor.remote() for _ in range(placement.actors)]
    running: dict[t.Any, tuple[str, int]] = {}  # a video's result, and its actor's place
    load = [0] * len(pool)  # videos queued on each actor

    def fill() -> None:
        while min(load) < 2:
            job = next(jobs, None)
            if job is None:
                return
            which = load.index(min(load))
            running[pool[which].run.remote(job)] = (job.path, which)
            load[which] += 1

    try:
        fill()
        while running:
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                path, which = running.pop(ref)
                load[which] -= 1
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:  # its actor died every try
                    yield Outcome(path, None, (), f"its Ray actor failed {RETRIES + 1} times "
                                  f"({type(error).__name__}: {str(error).splitlines()[0]})",
                                  0, 0.0)
            fill()
    finally:
        for ref in running:  # Ctrl-C, or the run stopped: nothing left running
            ray.cancel(ref, force=False)
        for each in pool:
            ray.kill(each, no_restart=True)
        if started_here:
            ray.shutdown()
