"""Batch runs on a Ray cluster of two nodes started on this machine (``ray start --head`` and a
second ``ray start --address``, each with its own CPUs): the rows of a run in one process, the
result cache filled and read through the coordinator, and a node killed mid-run losing no row
and doubling none."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

import vql
from vql.batch import ArchiveRun, RunReport
from vql.video.serve import free_port

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))
SECOND = "vql_second_node"  # a resource only the second node has: it names its raylet


@pytest.fixture
def cluster(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A head node with 2 CPUs (or the test's parameter) and a second node with 1, on this
    machine; stopped after."""
    head_cpus = getattr(request, "param", 2)
    # Ray's token authentication (its default for ``ray start``), the same for the nodes and
    # this process, set before this process first imports Ray (it reads it then)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    pytest.importorskip("ray")
    port = free_port()
    env = dict(os.environ, RAY_AUTH_MODE="token")
    common = ["--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", "--port", str(port), "--num-cpus", str(head_cpus),
                        "--include-dashboard=false", *common], env=env, check=True,
                       capture_output=True, timeout=120)
        subprocess.run([RAY, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1",
                        "--resources", f'{{"{SECOND}": 1}}', *common], env=env, check=True,
                       capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def _archive(tmp_path: Path, videos: Path) -> str:
    root = tmp_path / "archive"
    root.mkdir()
    for number in range(2):
        (root / f"road{number}.mp4").symlink_to(videos / "car-detection.mp4")
        (root / f"bottles{number}.mp4").symlink_to(videos / "bottle-detection.mp4")
    return f"{root}/*.mp4"


def _run(tmp_path: Path, name: str, glob: str, db: str = "", **options: object) -> RunReport:
    with vql.connect(str(tmp_path / f"{db or name}.duckdb")) as con:
        return ArchiveRun(con, tmp_path / "q.sql", glob, out=str(tmp_path / f"{name}.parquet"),
                          **options).execute()  # type: ignore[arg-type]


def _rows(tmp_path: Path, name: str) -> list[dict[str, object]]:
    return pq.read_table(tmp_path / f"{name}.parquet").to_pylist()


def test_two_nodes_give_the_rows_of_one_process_and_share_the_cache(
        tmp_path: Path, videos: Path, cluster: str) -> None:
    glob = _archive(tmp_path, videos)
    (tmp_path / "q.sql").write_text(
        "SELECT frame_id, len(detect(frame)) AS n FROM videos WHERE frame_id < 6;\n")
    here = _run(tmp_path, "here", glob)
    on_two = _run(tmp_path, "two", glob, ray=cluster, workers=2)
    assert (here.processed, on_two.processed) == (4, 4)
    assert on_two.placement == "2 actors (1 CPU each) on 2 Ray nodes"
    assert len(on_two.nodes) == 2  # each node ran videos
    assert _rows(tmp_path, "two") == _rows(tmp_path, "here")
    with vql.connect(str(tmp_path / "two.duckdb")) as con:  # the cache the nodes filled
        assert con.execute("SELECT count(DISTINCT content), sum(frames) "
                           "FROM vql_catalog.result_entries").fetchall() == [(2, 12)]
    (tmp_path / "q.sql").write_text(  # another question about the same frames
        "SELECT frame_id, detect(frame) AS boxes FROM videos WHERE frame_id < 6;\n")
    again = _run(tmp_path, "boxes", glob, db="two", ray=cluster, workers=2)
    assert again.processed == 4 and again.frames == 0  # read from the cache: nothing decoded


def _kill_the_second_node_mid_run(thread: threading.Thread) -> int | None:
    """Kill the second node's raylet once a video runs; its pid (None if none was seen)."""
    deadline = time.monotonic() + 120
    while thread.is_alive() and time.monotonic() < deadline:
        running = any("ray::VideoWorker.run" in " ".join(p.info["cmdline"] or ())
                      for p in psutil.process_iter(["cmdline"]))
        for proc in psutil.process_iter(["pid", "cmdline"]) if running else ():
            line = " ".join(proc.info["cmdline"] or ())
            if "raylet" in line and SECOND in line:
                proc.kill()  # the second node's raylet: the node and its actor die
                return int(proc.info["pid"])
        time.sleep(0.05)
    return None


def _run_killing_the_second_node(tmp_path: Path, videos: Path, cluster: str
                                 ) -> tuple[str, RunReport]:
    """A run over the archive on the cluster, every frame of each video (seconds per video),
    its second node killed while it runs; the archive's glob and the run's report."""
    glob = _archive(tmp_path, videos)
    (tmp_path / "q.sql").write_text(
        "SELECT frame_id, round(brightness, 6) AS level FROM videos;\n")
    reports: dict[str, RunReport] = {}
    thread = threading.Thread(
        target=lambda: reports.setdefault("run", _run(tmp_path, "k", glob, ray=cluster,
                                                      workers=2)))
    thread.start()
    killed = _kill_the_second_node_mid_run(thread)
    thread.join(300)
    assert killed is not None, "the second node was not seen running a video"
    return glob, reports["run"]


def test_a_node_killed_mid_run_loses_no_row_and_doubles_none(
        tmp_path: Path, videos: Path, cluster: str) -> None:
    glob, killed = _run_killing_the_second_node(tmp_path, videos, cluster)
    _run(tmp_path, "h", glob)
    assert killed.processed == 4 and not killed.failures
    assert _rows(tmp_path, "k") == _rows(tmp_path, "h")


@pytest.mark.parametrize("cluster", [1], indirect=True)  # no CPU to spare on the head
def test_the_videos_of_an_actor_that_cannot_be_restarted_go_to_another(
        tmp_path: Path, videos: Path, cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from vql.batch import on_ray

    monkeypatch.setattr(on_ray, "STALL_S", 8.0)  # given up after 8 s without an answer
    monkeypatch.setattr(on_ray, "PING_S", 0.5)
    started = time.monotonic()
    glob, killed = _run_killing_the_second_node(tmp_path, videos, cluster)
    assert time.monotonic() - started < 120  # it did not wait for the lost actor
    _run(tmp_path, "h", glob)
    assert killed.processed == 4 and not killed.failures  # the head's actor ran them
    assert _rows(tmp_path, "k") == _rows(tmp_path, "h")
