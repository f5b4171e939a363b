"""Batch runs on Ray (vql/batch/on_ray.py): a local Ray instance started for the run, the same
results as a run in this process, the result cache filled through the coordinator."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import vql
from vql.batch import ArchiveRun
from vql.batch.on_ray import require_ray

QUERY = "SELECT frame_id, round(brightness, 6) AS level FROM videos WHERE frame_id < 20;\n"


def _archive(tmp_path: Path, videos: Path) -> str:
    root = tmp_path / "archive"
    root.mkdir()
    (root / "road.mp4").symlink_to(videos / "car-detection.mp4")
    (root / "bottles.mp4").symlink_to(videos / "bottle-detection.mp4")
    (root / "empty.mp4").write_bytes(b"")
    (tmp_path / "q.sql").write_text(QUERY)
    return f"{root}/*.mp4"


def _rows(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def test_a_run_on_ray_gives_the_rows_of_a_run_in_this_process(tmp_path: Path,
                                                               videos: Path) -> None:
    glob = _archive(tmp_path, videos)
    reports = {}
    for name, options in {"ray": {"ray": "", "workers": 2}, "here": {}}.items():
        with vql.connect(str(tmp_path / f"{name}.duckdb")) as con:
            reports[name] = ArchiveRun(con, tmp_path / "q.sql", glob,
                                       out=str(tmp_path / f"{name}.parquet"),
                                       **options).execute()  # type: ignore[arg-type]
    on_ray = reports["ray"]
    assert (on_ray.processed, len(on_ray.failures)) == (2, 1) and on_ray.frames == 40
    assert _rows(tmp_path / "ray.parquet") == _rows(tmp_path / "here.parquet")
    with vql.connect(str(tmp_path / "ray.duckdb")) as con:  # what the tasks computed is kept
        assert con.execute("SELECT sum(frames) FROM vql_catalog.result_entries").fetchall() \
            == [(40,)]


def test_vql_run_ray_on_the_command_line(tmp_path: Path, videos: Path) -> None:
    glob = _archive(tmp_path, videos)
    done = subprocess.run([sys.executable, "-m", "vql.cli", "run", str(tmp_path / "q.sql"),
                           "--videos", glob, "--db", str(tmp_path / "r.duckdb"), "--ray",
                           "--workers", "2", "--out", str(tmp_path / "r.csv")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr  # one file failed, as without Ray
    assert "2 processed, 1 failed" in done.stdout
    assert ("ran on 2 actors (1 CPU each) on 1 Ray node; videos run on 1 node; "
            "models loaded") in done.stdout
    assert (tmp_path / "r.csv").read_text().count("\n") == 41  # a header and 2 x 20 rows


def test_an_actor_loads_the_detector_once_for_all_its_videos(tmp_path: Path,
                                                             videos: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    for number in range(4):  # four videos for two actors: two each
        (root / f"road{number}.mp4").symlink_to(videos / "car-detection.mp4")
    (tmp_path / "q.sql").write_text(
        "SELECT frame_id, len(detect(frame)) AS n FROM videos WHERE frame_id < 2;\n")
    with vql.connect(str(tmp_path / "r.duckdb")) as con:
        report = ArchiveRun(con, tmp_path / "q.sql", f"{root}/*.mp4", ray="", workers=2,
                            out=str(tmp_path / "r.parquet")).execute()
    assert report.processed == 4 and not report.failures
    assert report.placement == "2 actors (1 CPU each) on 1 Ray node"
    assert report.model_loads == 2  # once per actor, not once per video
    assert len(_rows(tmp_path / "r.parquet")) == 8


def test_an_actor_asks_for_a_gpu_when_the_cluster_has_them() -> None:
    from vql.batch.on_ray import Placement, place

    assert place({"CPU": 16.0, "GPU": 2.0}, 2, 4, "auto") == Placement(2, 1.0, 1.0, 2)
    assert place({"CPU": 16.0, "GPU": 2.0}, 2, 4, "cpu") == Placement(4, 1.0, 0.0, 2)
    assert place({"CPU": 2.0}, 1, 2, "cuda") == Placement(2, 1.0, 0.0, 1)
    assert place({"CPU": 16.0, "GPU": 2.0}, 2, 1, "auto").describe() \
        == "1 actor (1 CPU, 1 GPU each) on 2 Ray nodes"


def test_explain_shows_the_actor_pool_and_a_workers_plan_and_runs_nothing(
        tmp_path: Path, videos: Path) -> None:
    glob = _archive(tmp_path, videos)
    done = subprocess.run([sys.executable, "-m", "vql.cli", "run", str(tmp_path / "q.sql"),
                           "--videos", glob, "--db", str(tmp_path / "r.duckdb"), "--ray",
                           "--workers", "2", "--explain"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("3 videos matched, 3 to process (0 finished earlier)")
    assert lines[1].startswith("where: a Ray actor pool of 2 actors (1 CPU each) on 1 Ray node "
                               "(a local Ray instance started for the run)")
    assert "== query 1 of 1, as a worker plans it for bottles.mp4 ==" in lines
    assert any("FrameScan videos: 1 videos from the catalog, batches of" in ln for ln in lines)
    with vql.connect(str(tmp_path / "r.duckdb")) as con:  # nothing ran, nothing was recorded
        assert con.execute("SELECT count(*) FROM vql_catalog.runs").fetchall() == [(0,)]
    with vql.connect(str(tmp_path / "p.duckdb")) as con:
        pooled = ArchiveRun(con, tmp_path / "q.sql", glob, workers=3).explain()
    assert "where: a process pool of 3 worker processes" in pooled


def test_without_ray_the_option_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(vql.NotSupportedError, match=r"pip install 'vql\[ray\]'"):
        require_ray()


def test_a_killed_ray_worker_loses_no_row_and_doubles_none(tmp_path: Path,
                                                          videos: Path) -> None:
    import psutil

    glob = _archive(tmp_path, videos)
    (tmp_path / "q.sql").write_text(
        "SELECT frame_id, round(brightness, 6) AS level FROM videos;\n")  # every frame: seconds
    reports: dict[str, vql.batch.RunReport] = {}

    def run() -> None:
        with vql.connect(str(tmp_path / "k.duckdb")) as con:
            reports["killed"] = ArchiveRun(con, tmp_path / "q.sql", glob, ray="", workers=2,
                                           out=str(tmp_path / "k.parquet")).execute()

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and thread.is_alive() and time.monotonic() < deadline:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            if any("ray::VideoWorker.run" in part for part in proc.info["cmdline"] or ()):
                proc.kill()  # an actor process running a video
                killed = proc.info["pid"]
                break
        time.sleep(0.05)
    thread.join(300)
    assert killed is not None, "no Ray task was seen running"
    with vql.connect(str(tmp_path / "h.duckdb")) as con:
        ArchiveRun(con, tmp_path / "q.sql", glob, out=str(tmp_path / "h.parquet")).execute()
    assert reports["killed"].processed == 2  # the killed video was run again
    assert _rows(tmp_path / "k.parquet") == _rows(tmp_path / "h.parquet")
