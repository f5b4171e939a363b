"""Batch runs on Ray against one process and a process pool, and what one coordinator writes.

    python bench/ray.py [--copies 2] [--seconds 10] [--modes here,pool,ray1,ray2,ray2n]
                        [--writes 200] [--skip-runs]          # needs $VQL_SHARED and the ray extra

**Runs.** An archive of the three shared videos, ``--copies`` times each (symbolic links in a
temporary folder), and two query files over it, each reading the first ``--seconds`` of every
video:

    SELECT frame_id, len(detect(frame)) AS n FROM videos WHERE ts < 10                    -- exact
    SELECT frame_id, len(detect(frame)) AS n FROM videos WHERE ts < 10 WITH ACCURACY 0.9  -- target

The targeted file runs twice in each database: the first run is exact and profiles each video
from that run (kept per video content, ``vql_catalog.video_accuracy``); the second picks its
plans from those profiles, and is the row printed. The result cache is off (``VQL_CACHE_MB=0``),
so every run computes what it returns. Modes, each in a fresh database:

* ``here``: ``vql run`` in this process (``--workers 1``);
* ``pool``: a process pool of 2 workers (``--workers 2``);
* ``ray1``, ``ray2``: Ray on this machine, one node, an actor pool of 1 and 2 actors; the Ray
  instance is started before the runs (its start is printed apart), as a cluster would be;
* ``ray2n``: Ray on two nodes started on this machine (``ray start --head`` with 1 CPU and a
  second ``ray start --address`` with 1 CPU), 2 actors.

Printed per mode and query: wall time, frames decoded per second, the time against the same
query in one process (``here``) and, for Ray, against the process pool of as many workers; and
whether the rows equal ``here``'s; the lowest estimated accuracy of a video's results, and the
share of the rows equal to the exact query's in the same mode. Target: Ray on one node within 1.2x of ``here`` (1 actor) and
of ``pool`` (2 actors).

**Writes.** What limits a large cluster is the coordinator, the database's only writer. This
part commits ``--writes`` videos' outcomes as a run's coordinator does (``ArchiveRun._commit``:
the video's row, its result rows and its record in one transaction, then the function values
it computed for the result cache), each video with 300 result rows and 300 frames of real
``detect`` values, and prints videos, rows and cache values committed per second. It also
prints the bytes a job and an outcome take pickled (what moves between the coordinator and a
worker per video and per frame), and the seconds a fresh worker process takes to import VQL
and load the detector.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["VQL_CACHE_MB"] = "0"  # every run computes its answer (workers inherit it)
os.environ.setdefault("RAY_AUTH_MODE", "token")  # Ray's default for a cluster, and this process

import pyarrow.parquet as pq  # noqa: E402

# This file is named ray.py: its folder leaves the import path, or ``import ray`` finds it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
_spec = importlib.util.spec_from_file_location("bench_archive", HERE / "archive.py")
assert _spec is not None and _spec.loader is not None
_archive = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_archive)
TABLES, shared = _archive.TABLES, _archive.shared

import vql  # noqa: E402
from vql.batch import ArchiveRun  # noqa: E402
from vql.batch.jobs import Job, process  # noqa: E402
from vql.batch.knowledge import Knowledge  # noqa: E402
from vql.shell.format import table  # noqa: E402
from vql.video.serve import free_port  # noqa: E402

TARGET = 1.2
MODES = {"here": (1, None), "pool": (2, None), "ray1": (1, "local"), "ray2": (2, "local"),
         "ray2n": (2, "cluster")}
RAY = str(Path(sys.executable).with_name("ray"))
WRITE_ROWS = 300


def archive(folder: Path, copies: int) -> str:
    root = folder / "archive"
    root.mkdir()
    for name, file in TABLES.items():
        for copy in range(copies):
            (root / f"{name}{copy}.mp4").symlink_to(shared() / "data" / "videos" / file)
    return f"{root}/*.mp4"


def queries(folder: Path, seconds: float) -> dict[str, Path]:
    base = f"SELECT frame_id, len(detect(frame)) AS n FROM videos WHERE ts < {seconds:g}"
    files = {"exact": base + ";\n", "accuracy 0.9": base + " WITH ACCURACY 0.9;\n"}
    paths = {}
    for name, sql in files.items():
        paths[name] = folder / f"{name.replace(' ', '_').replace('.', '')}.sql"
        paths[name].write_text(sql)
    return paths


def run(folder: Path, mode: str, query: Path, glob: str, workers: int, ray: str | None,
        out: str) -> tuple[float, vql.batch.RunReport, list[dict[str, object]]]:
    with vql.connect(str(folder / f"{mode}.duckdb")) as con:
        started = time.perf_counter()
        report = ArchiveRun(con, query, glob, out=str(folder / f"{out}.parquet"),
                            workers=workers, ray=ray).execute()
        wall = time.perf_counter() - started
    rows = sorted(pq.read_table(folder / f"{out}.parquet").to_pylist(),
                  key=lambda r: (str(r["video_path"]), int(r["frame_id"])))  # type: ignore[call-overload]
    for row in rows:  # the copies of the archive have the same path in every mode
        row["video_path"] = Path(str(row["video_path"])).name
    return wall, report, rows


class Cluster:
    """Two Ray nodes of one CPU each on this machine."""

    def __init__(self) -> None:
        self.address = f"127.0.0.1:{free_port()}"
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
        subprocess.run([RAY, "start", "--head", "--port", self.address.split(":")[1],
                        "--include-dashboard=false", *common], check=True, capture_output=True)
        subprocess.run([RAY, "start", "--address", self.address, *common], check=True,
                       capture_output=True)

    def stop(self) -> None:
        subprocess.run([RAY, "stop", "--force"], capture_output=True)


def runs(args: argparse.Namespace) -> None:
    import ray

    folder = Path(tempfile.mkdtemp(prefix="vql-bench-ray-"))
    glob = archive(folder, args.copies)
    files = queries(folder, args.seconds)
    results: dict[tuple[str, str], tuple[float, vql.batch.RunReport, list[dict[str, object]]]] = {}
    notes = []
    for mode in args.modes.split(","):
        workers, where = MODES[mode]
        cluster = None
        address: str | None = None
        if where == "local":
            started = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            notes.append(f"{mode}: Ray started in {time.perf_counter() - started:.1f} s "
                         "(not in the rows)")
            address = ""
        elif where == "cluster":
            started = time.perf_counter()
            cluster = Cluster()
            ray.init(address=cluster.address, log_to_driver=False)
            notes.append(f"{mode}: two Ray nodes started in {time.perf_counter() - started:.1f} "
                         "s (not in the rows)")
            address = ""
        try:
            for name, query in files.items():
                if name != "exact":  # the first run profiles each video; the second is timed
                    run(folder, mode, query, glob, workers, address, f"{mode}_profiling")
                results[(mode, name)] = run(folder, mode, query, glob, workers, address,
                                            f"{mode}_{name.replace(' ', '_').replace('.', '')}")
                wall, report, _ = results[(mode, name)]
                print(f"  {mode} {name}: {wall:.1f} s{' on ' + report.placement if report.placement else ''}",
                      file=sys.stderr, flush=True)
        finally:
            if ray.is_initialized():
                ray.shutdown()
            if cluster is not None:
                cluster.stop()
    rows = []
    for (mode, name), (wall, report, answer) in results.items():
        here = results.get(("here", name))
        workers = MODES[mode][0]
        pool = results.get(("pool" if workers == 2 else "here", name))
        versus_here = f"{wall / here[0]:.2f}x" if here else "-"
        versus_pool = f"{wall / pool[0]:.2f}x" if pool and MODES[mode][1] else "-"
        same = "yes" if here and answer == here[2] else ("-" if not here else "no")
        exact = results.get((mode, "exact"))
        agree = "-" if exact is None or len(exact[2]) != len(answer) else \
            f"{sum(a == b for a, b in zip(answer, exact[2])) / max(len(answer), 1):.3f}"
        estimate = "1.0 (exact)" if report.lossy == 0 else (
            f"{report.accuracy:.3f}" if report.accuracy is not None else "not known")
        rows.append([mode, name, f"{wall:.1f}", f"{report.frames:,}",
                     f"{report.frames / wall:,.0f}", versus_here, versus_pool, same, estimate,
                     agree])
    print(table(["mode", "query", "wall s", "frames decoded", "frames/s", "vs here",
                 "vs same workers", "rows = here's", "lowest estimate", "rows = exact's"],
                rows))
    for note in notes:
        print(note)
    for (mode, name), (wall, _, _) in results.items():
        base = results.get(("pool" if MODES[mode][0] == 2 else "here", name))
        if MODES[mode][1] is not None and base is not None:
            verdict = "meets" if wall / base[0] <= TARGET else "misses"
            print(f"{mode}, {name}: {wall / base[0]:.2f}x the same workers without Ray: "
                  f"{verdict} the target <= {TARGET}x")


def writes(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vql-bench-writes-"))
    road = shared() / "data" / "videos" / TABLES["intersection"]
    (folder / "q.sql").write_text(f"SELECT frame_id, len(detect(frame)) AS n FROM videos "
                                  f"WHERE frame_id < {WRITE_ROWS};\n")
    # One real video's outcome, with the detect values a worker sends for the result cache.
    os.environ["VQL_CACHE_MB"] = "1024"
    job = Job(str(road), "videos", (), ((folder / "q.sql").read_text(),), 2)
    outcome = process(job)
    assert outcome.error is None and outcome.probe is not None, outcome.error
    frames = len(outcome.results[0])
    values = sum(len(e.frame_ids) for e in outcome.learned.cache)
    job_bytes, outcome_bytes = len(pickle.dumps(job)), len(pickle.dumps(outcome))
    with vql.connect(str(folder / "w.duckdb")) as con:
        coordinator = ArchiveRun(con, folder / "q.sql", str(road), out="w")
        with coordinator.engine.atomic():
            coordinator.engine.catalog.create_video_table("videos")
            coordinator.ledger.start()
        started = time.perf_counter()
        for number in range(count):
            content = f"{number:064x}"
            probe = dataclasses.replace(outcome.probe, path=f"/archive/v{number}.mp4",
                                        sha256=content)
            cache = tuple(dataclasses.replace(e, content=content)
                          for e in outcome.learned.cache)
            coordinator._commit(dataclasses.replace(
                outcome, path=probe.path, probe=probe,
                learned=Knowledge(outcome.learned.profiles, cache)))
        seconds = time.perf_counter() - started
    print(table(["videos committed", "seconds", "videos/s", "result rows/s", "cache values/s"],
                [[f"{count:,}", f"{seconds:.1f}", f"{count / seconds:,.1f}",
                  f"{count * frames / seconds:,.0f}", f"{count * values / seconds:,.0f}"]]))
    print(f"per video of {frames} frames: a job {job_bytes:,} bytes, its outcome "
          f"{outcome_bytes:,} bytes pickled ({outcome_bytes / frames:,.0f} bytes per frame, "
          f"{values} cache values)")
    load = subprocess.run(
        [sys.executable, "-c",
         "import time; s = time.perf_counter(); import vql; i = time.perf_counter() - s\n"
         f"con = vql.connect(); con.execute(\"CREATE VIDEO TABLE r FROM '{road}'\")\n"
         "s = time.perf_counter(); con.execute('SELECT len(detect(frame)) FROM r WHERE "
         "frame_id < 1').fetchall(); f = time.perf_counter() - s\n"
         "s = time.perf_counter(); con.execute('SELECT len(detect(frame)) FROM r WHERE "
         "frame_id < 1').fetchall(); n = time.perf_counter() - s\n"
         "print(f'{i:.2f} {f - n:.2f}')"],
        capture_output=True, text=True, check=True, env=dict(os.environ, VQL_CACHE_MB="0"))
    imported, loaded = load.stdout.split()
    print(f"a fresh worker process: import vql {imported} s; the detector's first call "
          f"{loaded} s more than its second (the model's load)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--modes", default="here,pool,ray1,ray2,ray2n")
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--skip-runs", action="store_true")
    args = parser.parse_args()
    if not args.skip_runs:
        runs(args)
    if args.writes:
        writes(args.writes)


if __name__ == "__main__":
    main()
