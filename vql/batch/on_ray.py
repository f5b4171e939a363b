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
  run again on it (``RETRIES`` times); when that fails too, VQL queues the video on another
  actor (``RETRIES`` times more); a video that still fails is recorded as failed with the
  reason, and the next run tries it again. Results are committed only from a finished video,
  so none is lost or doubled.
* The actors are spread over the cluster's nodes (Ray's ``SPREAD``).
* An actor that cannot be restarted (its node died and no other has a free CPU) would wait
  for ever: one that answers no ping for ``STALL_S`` seconds is given up and its videos go to
  the other actors; with none left, the run stops, keeping what it finished.
* Ctrl-C stops the actors.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import typing as t
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from vql.batch.jobs import Job, Outcome, process
from vql.errors import MissingDependencyError

RETRIES = 2  # times a video runs again when its actor's process dies
PING_S = 5.0  # how often the actors are asked whether they are alive, while videos run
STALL_S = 120.0  # an actor that answers no ping for this long is given up (see _Actors)


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


def ray_placement(address: str | None, workers: int | None, device: str) -> Placement:
    """The pool a run would get: for a local instance, from this machine's CPUs as
    ``workers`` and its GPUs as this process sees them (Ray is not started); for an address,
    from the cluster's resources (connected to, then left); ``workers`` None: one actor per
    CPU."""
    if address is None:
        from vql.kernels.device import cuda_status

        count = workers or os.cpu_count() or 1
        return place({"CPU": float(count), "GPU": float(cuda_status().available)}, 1, count,
                     device)
    ray = require_ray()
    connected_here = not ray.is_initialized()
    if connected_here:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        alive = sum(1 for node in ray.nodes() if node.get("Alive"))
        resources = ray.cluster_resources()
        return place(resources, alive, workers or int(resources.get("CPU", 1)), device)
    finally:
        if connected_here:
            ray.shutdown()


class VideoWorker:
    """A Ray actor: runs videos one after another in one process, keeping loaded models;
    it answers ``ping`` while it runs one (a concurrency group of its own)."""

    def run(self, job: Job) -> Outcome:
        """Run one video's job here; its outcome names this node."""
        import ray

        return dataclasses.replace(process(job), node=ray.get_runtime_context().get_node_id())

    def ping(self) -> bool:
        """Answer that this actor is alive (its own concurrency group: also while it runs)."""
        return True


class _Actors:
    """The pool's actors, the videos queued on each, and when each last answered a ping."""

    def __init__(self, ray: t.Any, placement: Placement) -> None:
        self.ray = ray
        # spread over the nodes: a node's death then stops as few videos as can be
        actor = ray.remote(num_cpus=placement.cpus, num_gpus=placement.gpus,
                           max_restarts=RETRIES, max_task_retries=RETRIES,
                           scheduling_strategy="SPREAD",
                           concurrency_groups={"videos": 1, "pings": 1})(VideoWorker)
        self.handles = [actor.remote() for _ in range(placement.actors)]
        self.alive = set(range(len(self.handles)))
        self.queued: dict[int, dict[t.Any, Job]] = {i: {} for i in self.alive}  # ref -> job
        now = time.monotonic()
        self.answered = dict.fromkeys(self.alive, now)
        self.pings: dict[int, t.Any] = {}

    def freest(self) -> int | None:
        """A live actor with fewer than two videos queued, the least loaded; None if none."""
        free = [i for i in self.alive if len(self.queued[i]) < 2]
        return min(free, key=lambda i: len(self.queued[i])) if free else None

    def submit(self, which: int, job: Job) -> None:
        ref = self.handles[which].run.options(concurrency_group="videos").remote(job)
        self.queued[which][ref] = job

    def running(self) -> list[t.Any]:
        return [ref for i in self.alive for ref in self.queued[i]]

    def finish(self, ref: t.Any) -> tuple[int, Job]:
        """The actor and the job of a finished video, no longer queued."""
        for which, queued in self.queued.items():
            if ref in queued:
                return which, queued.pop(ref)
        raise KeyError(ref)

    def drop(self, which: int) -> list[Job]:
        """Give up a dead actor; the videos still queued on it."""
        self.alive.discard(which)
        return list(self.queued.pop(which, {}).values())

    def stalled(self) -> list[Job]:
        """The videos held by actors that answered no ping for ``STALL_S`` seconds (their node
        died and no node has room to restart them); those actors are given up."""
        now = time.monotonic()
        for which in sorted(self.alive):
            ping = self.pings.get(which)
            if ping is not None:
                done, _ = self.ray.wait([ping], timeout=0)
                if not done:
                    continue
                self.answered[which] = now
            self.pings[which] = self.handles[which].ping.options(
                concurrency_group="pings", max_task_retries=0).remote()
        lost: list[Job] = []
        for which in sorted(self.alive):
            if now - self.answered[which] > STALL_S and self.queued[which]:
                self.ray.kill(self.handles[which], no_restart=True)
                lost.extend(self.drop(which))
        return lost

    def stop(self) -> None:
        for which in self.alive:  # Ctrl-C, or the run stopped: nothing left running
            for ref in self.queued[which]:
                self.ray.cancel(ref, force=False)
        for ping in self.pings.values():
            self.ray.cancel(ping, force=False)
        for handle in self.handles:
            self.ray.kill(handle, no_restart=True)


def ray_outcomes(jobs: Iterator[Job], workers: int | None, address: str | None,
                 device: str = "auto", placed: t.Callable[[Placement], None] | None = None
                 ) -> Generator[Outcome, None, None]:
    """The outcomes of ``jobs`` as the pool's actors finish them, two videos queued per
    actor at most; ``placed`` hears the pool chosen before the first video starts.
    ``workers`` None: one actor per CPU (of this machine for a local instance)."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        if address is None:  # a local instance for this run
            ray.init(address="local", num_cpus=workers or os.cpu_count() or 1,
                     include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    alive = sum(1 for node in ray.nodes() if node.get("Alive"))
    resources = ray.cluster_resources()
    placement = place(resources, alive, workers or int(resources.get("CPU", 1)), device)
    if placed is not None:
        placed(placement)
    actors = _Actors(ray, placement)
    again: list[Job] = []  # videos whose actor died, to run on another (VQL's own retries)
    tries: dict[str, int] = {}

    def fill() -> Outcome | None:
        """Queue videos on free actors; an outcome that stops the run when none is left."""
        while (which := actors.freest()) is not None:
            job = again.pop(0) if again else next(jobs, None)
            if job is None:
                return None
            actors.submit(which, job)
        if not actors.alive:
            job = again.pop(0) if again else next(jobs, None)
            if job is not None:
                return Outcome(job.path, None, (), "no Ray actor is left to run it: each was "
                               f"lost with its node and could not be restarted within "
                               f"{STALL_S:g} s", 0, 0.0, fatal=True)
        return None

    def lost(job: Job, why: str) -> Outcome | None:
        """A video whose actor died: queued again on another, or failed after RETRIES."""
        tries[job.path] = tries.get(job.path, 0) + 1
        if tries[job.path] <= RETRIES:
            again.append(job)
            return None
        return Outcome(job.path, None, (), f"{why} ({tries[job.path]} times)", 0, 0.0)

    try:
        stop = fill()
        while actors.running() or stop is not None:
            if stop is not None:
                yield stop
                return
            finished, _ = ray.wait(actors.running(), num_returns=1, timeout=PING_S)
            for ref in finished:
                which, job = actors.finish(ref)
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:  # its actor died, restarts spent
                    orphans = actors.drop(which) if isinstance(
                        error, ray.exceptions.ActorDiedError) else []
                    for each in [job, *orphans]:
                        failed = lost(each, f"its Ray actor died ({type(error).__name__}: "
                                            f"{str(error).splitlines()[0]})")
                        if failed is not None:
                            yield failed
            for job in actors.stalled():
                failed = lost(job, "its Ray actor was lost with its node and no node had room "
                                   f"to restart it within {STALL_S:g} s")
                if failed is not None:
                    yield failed
            stop = fill()
    finally:
        actors.stop()
        if started_here:
            ray.shutdown()
