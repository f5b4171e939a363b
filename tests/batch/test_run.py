"""Batch runs over an archive: results per video, bad files recorded, interrupted runs resumed
with the same final results, worker processes, the command line: one result file for several
queries, failures counted as failures with their whole reason, no raw FFmpeg lines."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import vql
from vql.batch import ArchiveRun, RunProgress
from vql.batch.cli import progress_head
from vql.exec.progress import Progress

QUERIES = """
SELECT count(*) AS frames, round(avg(brightness), 6) AS level FROM videos WHERE frame_id < 24;
SELECT frame_id, round(brightness, 6) AS level FROM videos WHERE frame_id < 6 ORDER BY frame_id;
"""
GOOD = ("day1/road.mp4", "day2/bottles.mp4", "day2/room.mp4")
BAD = {"day1/empty.mp4": "the file is empty", "day2/notes.mp4": "not a decodable video"}
RAW_LINES = ("video_reader.cc", "[mov,mp4", " @ 0x")  # what decord and FFmpeg print themselves


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
    """The rows of each query, from the one file the run wrote, without the query's columns
    that another query added (NULL here)."""
    rows = pq.read_table(tmp_path / f"{db}.parquet").to_pylist()
    assert [r["query"] for r in rows] == sorted(r["query"] for r in rows)  # ordered by query
    own = ({"query", "video_path", "result_row", "frames", "level"},
           {"query", "video_path", "result_row", "frame_id", "level"})
    return [[{k: v for k, v in r.items() if k in own[i - 1]} for r in rows if r["query"] == i]
            for i in (1, 2)]


def test_each_video_gets_its_results_and_bad_files_are_recorded(tmp_path: Path,
                                                                 archive: Path) -> None:
    report = _run(tmp_path, archive, "a.duckdb")
    assert (report.videos, report.processed, report.skipped) == (5, 3, 0)  # failed: not processed
    assert report.files == (str(tmp_path / "a.duckdb.parquet"),)  # the file named, nothing else
    assert not list(tmp_path.glob("a.duckdb_*"))
    assert {Path(p).relative_to(archive).as_posix(): e for p, e in report.failures}.keys() == \
        BAD.keys()
    for path, error in report.failures:
        assert BAD[Path(path).relative_to(archive).as_posix()] in error
    per_video, per_frame = _results(tmp_path, "a.duckdb")
    assert [Path(str(r["video_path"])).relative_to(archive).as_posix() for r in per_video] == \
        sorted(GOOD)
    assert all(r["frames"] == 24 and 0 < float(str(r["level"])) < 1 for r in per_video)
    assert len(per_frame) == 3 * 6 and [r["frame_id"] for r in per_frame[:6]] == list(range(6))
    columns = pq.read_schema(tmp_path / "a.duckdb.parquet").names
    assert columns == ["query", "video_path", "result_row", "frames", "level", "frame_id"]
    rows = pq.read_table(tmp_path / "a.duckdb.parquet").to_pylist()  # NULL where not a column
    assert all((r["frame_id"] is None) == (r["query"] == 1) == (r["frames"] is not None)
               for r in rows)
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
    assert first.interrupted and first.processed + len(first.failures) == 2
    assert first.files == ()
    second = _run(tmp_path, archive, "parts.duckdb")
    assert not second.interrupted and second.skipped >= 1
    assert second.processed + len(second.failures) <= 4 and len(second.failures) == 2
    assert _results(tmp_path, "parts.duckdb") == _results(tmp_path, "whole.duckdb")
    third = _run(tmp_path, archive, "parts.duckdb")  # nothing left but the failed files
    assert third.skipped == 3 and third.processed == 0 and len(third.failures) == 2
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
    assert f"{archive / 'day1/empty.mp4'}: the file is empty (0 bytes)\n" in done.stdout
    clean = subprocess.run([*command[:-4], "--db", str(tmp_path / "clean.duckdb"), "--out",
                            str(tmp_path / "clean.csv")], capture_output=True, text=True,
                           timeout=300)
    assert clean.returncode == 2, clean.stderr
    assert (tmp_path / "k.csv").read_text() == (tmp_path / "clean.csv").read_text()
    assert (tmp_path / "k.csv").read_text().splitlines()[0] == \
        "query,video_path,result_row,frames,level,frame_id"


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


def test_the_summary_counts_failures_as_failures_with_their_whole_reason(
        tmp_path: Path, archive: Path, road_video: Path) -> None:
    """A file cut short and a text file named .mp4 beside the real videos: the summary says
    3 processed and 3 failed, each failure's reason whole (FFmpeg's words at its end), and
    none of the lines decord and FFmpeg print themselves reach the terminal."""
    (archive / "day1/cut.mp4").write_bytes(road_video.read_bytes()[:100_000])
    (tmp_path / "one.sql").write_text("SELECT count(*) AS frames FROM videos;")
    done = subprocess.run([sys.executable, "-m", "vql.cli", "run", str(tmp_path / "one.sql"),
                           "--videos", f"{archive}/**/*.mp4", "--db", str(tmp_path / "f.duckdb"),
                           "--out", str(tmp_path / "f.parquet")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "6 videos matched; 3 processed, 3 failed, 0 finished earlier" in done.stdout
    failed = done.stdout.split("failed (3):\n")[1].splitlines()
    assert [line.split(": ")[0].strip() for line in failed] == \
        [str(archive / n) for n in ("day1/cut.mp4", "day1/empty.mp4", "day2/notes.mp4")]
    assert re.search(r"cut short: .*; repair or re-encode it \(FFmpeg: .*partial file\)$",
                     failed[0]), failed[0]
    assert failed[2].endswith("not a decodable video (FFmpeg: moov atom not found; Invalid "
                              "data found when processing input)"), failed[2]
    assert not [line for line in done.stderr.splitlines()
                if any(raw in line for raw in RAW_LINES)], done.stderr
    # one query keeps its shape: no query column
    assert pq.read_schema(tmp_path / "f.parquet").names == ["video_path", "result_row", "frames"]


def test_query_columns_of_different_types_are_named_instead_of_a_duckdb_error(
        tmp_path: Path, archive: Path) -> None:
    """DuckDB unites a number and a text (as text), not a number and a list."""
    (tmp_path / "clash.sql").write_text("SELECT count(*) AS x FROM videos;\n"
                                        "SELECT [frame_id] AS x FROM videos LIMIT 1;")
    with vql.connect(str(tmp_path / "x.duckdb")) as con:
        run = ArchiveRun(con, tmp_path / "clash.sql", f"{archive}/day1/road.mp4",
                         out=str(tmp_path / "x.parquet"))
        with pytest.raises(vql.ProgrammingError, match=r"'x' is BIGINT in query 1 and "
                           r"INTEGER\[\] in query 2; rename the column .* "
                           "kept in the tables x_1, x_2"):
            run.execute()


@pytest.mark.parametrize("out, message", [
    ("results.json", "neither a file to write"),
    ("no/such/folder/results.parquet", "the folder .* does not exist"),
])
def test_an_out_that_cannot_be_written_is_refused_before_the_run(
        tmp_path: Path, archive: Path, out: str, message: str) -> None:
    with vql.connect(":memory:") as con, pytest.raises(vql.ProgrammingError, match=message):
        ArchiveRun(con, tmp_path / "q.sql", f"{archive}/**/*.mp4", out=str(tmp_path / out))


@pytest.mark.parametrize("seconds, words", [
    (2.6, "about 3 s left"), (200, "about 3 min 20 s left"), (7530, "about 2 h 5 min left"),
])
def test_time_left_reads_the_same_in_vql_run_and_in_a_query_progress(
        seconds: float, words: str) -> None:
    run = RunProgress(total=10, done=5, failed=1, frames=100, elapsed=seconds)
    assert progress_head(run) == f"[5/10 videos] {100 / seconds:,.0f} frames/s, 1 failed, {words}"
    query = Progress(frames_done=100, frames_total=200, elapsed_s=seconds)
    assert query.describe().endswith(f", {words}")
    assert "left" not in progress_head(RunProgress(10, 10, 0, 100, seconds))  # finished


def test_the_help_says_what_several_queries_write_and_the_exit_statuses() -> None:
    done = subprocess.run([sys.executable, "-m", "vql.cli", "run", "--help"],
                          capture_output=True, text=True, timeout=60)
    text = " ".join(done.stdout.split())
    assert done.returncode == 0
    assert "with several queries, one file holding them all, its first column 'query'" in text
    assert "2 some files failed (each listed with its whole reason" in text


def test_a_query_column_named_query_is_refused_with_several_queries(tmp_path: Path,
                                                                    archive: Path) -> None:
    (tmp_path / "named.sql").write_text("SELECT 'mine' AS query FROM videos LIMIT 1;\n"
                                        "SELECT count(*) AS n FROM videos;")
    with vql.connect(":memory:") as con:
        run = ArchiveRun(con, tmp_path / "named.sql", f"{archive}/day1/road.mp4",
                         out=str(tmp_path / "named.csv"))
        with pytest.raises(vql.ProgrammingError, match="query 1 has a column named 'query'"):
            run.execute()


def test_track_questions_run_per_video(tmp_path: Path, road_video: Path) -> None:
    """The issue's questions about cars run by vql run as in the shell (tests/udfs/test_track.py
    holds them to the labels there)."""
    (tmp_path / "cars.sql").write_text(
        "SELECT count(*) AS cars FROM tracks(intersection, 'vehicle');\n"
        "SELECT crossings(path, 0, 216, 768, 216) AS direction, count(*) AS cars "
        "FROM tracks(intersection, 'vehicle') GROUP BY direction;\n"
        "SELECT max(len(track(frame, 'vehicle'))) AS most FROM intersection;\n")
    done = subprocess.run([sys.executable, "-m", "vql.cli", "run", str(tmp_path / "cars.sql"),
                           "--videos", str(road_video), "--table", "intersection", "--out",
                           str(tmp_path / "cars.parquet")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pq.read_table(tmp_path / "cars.parquet").to_pylist()
    assert [r["cars"] for r in rows if r["query"] == 1] == [4]
    assert sorted((r["direction"], r["cars"]) for r in rows if r["query"] == 2) == [(-1, 2),
                                                                                     (1, 2)]
    assert [r["most"] for r in rows if r["query"] == 3] == [2]
    # The three questions share the video's tracks: its 377 frames are decoded once.
    assert "377 frames decoded" in done.stdout, done.stdout
