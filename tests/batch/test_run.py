"""Batch runs over an archive: results per video, bad files recorded, interrupted runs resumed
with the same final results, worker processes, the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import vql
from vql.batch import ArchiveRun, RunProgress

QUERIES = """
SELECT count(*) AS frames, round(avg(brightness), 6) AS level FROM videos WHERE frame_id < 24;
SELECT frame_id, round(brightness, 6) AS level FROM videos WHERE frame_id < 6 ORDER BY frame_id;
"""
GOOD = ("day1/road.mp4", "day2/bottles.mp4", "day2/room.mp4")
BAD = {"day1/empty.mp4": "the file is empty", "day2/notes.mp4": "not a decodable video"}


@pytest.fixture
def archive(tmp_path: Path, videos: Path) -> Path:
    """Three real videos (linked, not copied) and two bad files, in two folders."""
    root = tmp_path / "archive"
    for name, source in zip(GOOD, ("car-detection.mp4", "bottle-detection.mp4",
                                   "one-by-one-person-detection.mp4"), strict=True):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(videos / source)
    (root / "day1/empty.mp4").write_bytes(b"")
    (root / "day2/notes.mp4").write_text("not a video\n")
    (tmp_path / "q.sql").write_text(QUERIES)
    return root


def _run(tmp_path: Path, archive: Path, db: str, **options: object) -> vql.batch.RunReport:
    with vql.connect(str(tmp_path / db)) as con:
        return ArchiveRun(con, tmp_path / "q.sql", f"{archive}/**/*.mp4",
                          out=str(tmp_path / f"{db}.parquet"), **options).execute()  # type: ignore[arg-type]


def _results(tmp_path: Path, db: str) -> list[list[dict[str, object]]]:
    return [pq.read_table(tmp_path / f"{db}.parquet".replace(".parquet", f"_{i}.parquet"))
            .to_pylist() for i in (1, 2)]


def test_each_video_gets_its_results_and_bad_files_are_recorded(tmp_path: Path,
                                                                 archive: Path) -> None:
    report = _run(tmp_path, archive, "a.duckdb")
    assert (report.videos, report.processed, report.skipped) == (5, 5, 0)
    assert {Path(p).relative_to(archive).as_posix(): e for p, e in report.failures}.keys() == \
        BAD.keys()
    for path, error in report.failures:
        assert BAD[Path(path).relative_to(archive).as_posix()] in error
    per_video, per_frame = _results(tmp_path, "a.duckdb")
    assert [Path(str(r["video_path"])).relative_to(archive).as_posix() for r in per_video] == \
        sorted(GOOD)
    assert all(r["frames"] == 24 and 0 < float(str(r["level"])) < 1 for r in per_video)
    assert len(per_frame) == 3 * 6 and [r["frame_id"] for r in per_frame[:6]] == list(range(6))
    with vql.connect(str(tmp_path / "a.duckdb")) as con:  # the videos and records stay queryable
        assert con.execute("SELECT count(*) FROM vql_catalog.table_videos "
                           "WHERE table_name = 'videos'").fetchone() == (3,)
        assert con.execute("SELECT status, count(*) FROM vql_catalog.run_videos GROUP BY 1 "
                           "ORDER BY 1").fetchall() == [("done", 3), ("failed", 2)]


def test_an_interrupted_run_resumes_to_the_same_results(tmp_path: Path, archive: Path) -> None:
    whole = _run(tmp_path, archive, "whole.duckdb")
    assert not whole.interrupted

    def stop_after_two(state: RunProgress) -> None:
        if state.done == 2:
            raise KeyboardInterrupt

    first = _run(tmp_path, archive, "parts.duckdb", progress=stop_after_two)
    assert first.interrupted and first.processed == 2 and first.files == ()
    second = _run(tmp_path, archive, "parts.duckdb")
    assert not second.interrupted and second.skipped >= 1 and second.processed <= 4
    assert _results(tmp_path, "parts.duckdb") == _results(tmp_path, "whole.duckdb")
    third = _run(tmp_path, archive, "parts.duckdb")  # nothing left but the failed files
    assert third.skipped == 3 and third.processed == 2
    assert _results(tmp_path, "parts.duckdb") == _results(tmp_path, "whole.duckdb")


def test_a_changed_or_removed_video_is_processed_again_or_forgotten(tmp_path: Path,
                                                                    archive: Path) -> None:
    _run(tmp_path, archive, "c.duckdb")
    (archive / "day2/bottles.mp4").unlink()
    os.utime(archive / "day1/road.mp4", follow_symlinks=False)
    report = _run(tmp_path, archive, "c.duckdb")
    per_video, _ = _results(tmp_path, "c.duckdb")
    assert [Path(str(r["video_path"])).name for r in per_video] == ["road.mp4", "room.mp4"]
    assert report.videos == 4


def test_worker_processes_give_the_same_results(tmp_path: Path, archive: Path) -> None:
    _run(tmp_path, archive, "one.duckdb")
    report = _run(tmp_path, archive, "two.duckdb", workers=2)
    assert len(report.failures) == 2
    assert _results(tmp_path, "two.duckdb") == _results(tmp_path, "one.duckdb")


def test_a_new_run_does_not_write_into_someone_elses_table(tmp_path: Path,
                                                           archive: Path) -> None:
    with vql.connect(str(tmp_path / "d.duckdb")) as con:
        con.execute("CREATE TABLE q_2 (x INTEGER)")
        with pytest.raises(vql.CatalogError, match="output table .q_2. exists"):
            ArchiveRun(con, tmp_path / "q.sql", f"{archive}/**/*.mp4").execute()


def test_the_command_line_reports_and_resumes_after_a_kill(tmp_path: Path,
                                                           archive: Path) -> None:
    command = [sys.executable, "-m", "vql.cli", "run", str(tmp_path / "q.sql"), "--videos",
               f"{archive}/**/*.mp4", "--db", str(tmp_path / "k.duckdb"), "--out",
               str(tmp_path / "k.csv")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    assert process.stderr is not None
    for line in process.stderr:  # one line per video when not at a terminal
        if "[1/5 videos]" in line:
            os.killpg(process.pid, signal.SIGKILL)  # no chance to clean up
            break
    process.wait()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr  # finished, with failed files
    assert "finished earlier" in done.stdout and "failed (2):" in done.stdout
    assert "empty.mp4: cannot read video" in done.stdout
    clean = subprocess.run([*command[:-4], "--db", str(tmp_path / "clean.duckdb"), "--out",
                            str(tmp_path / "clean.csv")], capture_output=True, text=True,
                           timeout=300)
    assert clean.returncode == 2, clean.stderr
    for i in (1, 2):
        assert (tmp_path / f"k_{i}.csv").read_text() == (tmp_path / f"clean_{i}.csv").read_text()


def test_ctrl_c_stops_the_workers_and_the_run_resumes(tmp_path: Path, archive: Path) -> None:
    (tmp_path / "motion.sql").write_text("SELECT count(*) AS frames, round(avg(motion), 6) "
                                         "AS motion FROM videos;")
    command = [sys.executable, "-m", "vql.cli", "run", str(tmp_path / "motion.sql"),
               "--videos", f"{archive}/**/*.mp4", "--workers", "2"]
    interrupted = subprocess.Popen([*command, "--db", str(tmp_path / "i.duckdb")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
    assert interrupted.stderr is not None
    for line in interrupted.stderr:
        if "[1/5 videos]" in line:  # the empty file, at once; the others are in flight
            os.killpg(interrupted.pid, signal.SIGINT)  # Ctrl-C at a terminal
            break
    out, _ = interrupted.communicate(timeout=60)
    assert interrupted.returncode == 130 and "interrupted" in out
    resumed = subprocess.run([*command, "--db", str(tmp_path / "i.duckdb"), "--out",
                              str(tmp_path / "i.csv")], capture_output=True, text=True,
                             timeout=300)
    clean = subprocess.run([*command, "--db", str(tmp_path / "c.duckdb"), "--out",
                            str(tmp_path / "c.csv")], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == clean.returncode == 2, resumed.stderr
    assert (tmp_path / "i.csv").read_text() == (tmp_path / "c.csv").read_text()
    assert (tmp_path / "c.csv").read_text().count("\n") == 4  # a header and 3 videos


def test_an_error_that_is_not_about_a_file_stops_the_run(tmp_path: Path, archive: Path) -> None:
    (tmp_path / "bad.sql").write_text("SELECT no_such_column FROM videos;")
    with vql.connect(str(tmp_path / "s.duckdb")) as con:
        run = ArchiveRun(con, tmp_path / "bad.sql", f"{archive}/day1/road.mp4")
        with pytest.raises(vql.OperationalError, match="the run stopped at .*no_such_column"):
            run.execute()
        assert con.execute("SELECT count(*) FROM vql_catalog.run_videos").fetchone() == (0,)
