"""What batch-run workers share through the coordinator (vql/batch/knowledge.py): the result
cache's values and the table's measured costs, read from and written to the database that
only the coordinator opens."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from vql.catalog import Profile

import vql
from vql.batch import ArchiveRun
from vql.batch.knowledge import known, learned, seed, store


def _archive(tmp_path: Path, videos: Path) -> str:
    root = tmp_path / "archive"
    root.mkdir()
    (root / "road.mp4").symlink_to(videos / "car-detection.mp4")
    (root / "room.mp4").symlink_to(videos / "one-by-one-person-detection.mp4")
    return f"{root}/*.mp4"


def _run(tmp_path: Path, name: str, sql: str, glob: str, workers: int
         ) -> tuple[vql.batch.RunReport, list[dict[str, object]]]:
    (tmp_path / f"{name}.sql").write_text(sql)
    out = tmp_path / f"{name}.parquet"
    with vql.connect(str(tmp_path / "runs.duckdb")) as con:
        report = ArchiveRun(con, tmp_path / f"{name}.sql", glob, out=str(out),
                            workers=workers).execute()
    rows = sorted(pq.read_table(out).to_pylist(),
                  key=lambda r: (str(r["video_path"]), int(r["frame_id"])))  # type: ignore[call-overload]
    return report, rows


def test_workers_fill_the_result_cache_and_a_later_run_reads_it(tmp_path: Path,
                                                                videos: Path) -> None:
    glob = _archive(tmp_path, videos)
    first, counted = _run(tmp_path, "count", "SELECT frame_id, len(detect(frame)) AS n "
                          "FROM videos WHERE frame_id < 40;", glob, workers=2)
    assert first.processed == 2 and first.frames == 80
    with vql.connect(str(tmp_path / "runs.duckdb")) as con:
        assert con.execute("SELECT count(DISTINCT content), sum(frames) "
                           "FROM vql_catalog.result_entries").fetchall() == [(2, 80)]
    # another run (another question) over the same files: the detector does not run again
    second, boxes = _run(tmp_path, "boxes", "SELECT frame_id, detect(frame) AS d FROM videos "
                         "WHERE frame_id < 30;", glob, workers=1)
    assert second.processed == 2 and second.frames == 0
    wanted = [(r["video_path"], r["frame_id"], r["n"]) for r in counted if r["frame_id"] < 30]
    assert [(r["video_path"], r["frame_id"], len(r["d"])) for r in boxes] == wanted


def test_the_tables_costs_reach_a_worker_and_what_it_measures_comes_back(
        tmp_path: Path, road_video: Path) -> None:
    decode = Profile("videos", "decode", "sequential", "cpu", 1, 1.2, 32, "32 frames")
    detect = Profile("videos", "detect", "('fastestdet',)", "cpu", 16, 14.0, 32, "32 frames")
    with vql.connect(str(tmp_path / "c.duckdb")) as coordinator, \
            vql.connect(":memory:") as worker:
        ours, theirs = coordinator._engine, worker._engine
        ours.catalog.create_video_table("videos")
        ours.measurements.save_profiles("videos", [decode])
        sent = known(ours, "videos", str(road_video))
        assert [(p.operator, p.ms_per_frame) for p in sent.profiles] == [("decode", 1.2)]
        assert sent.cache == ()  # the database never saw this file
        theirs.catalog.create_video_table("videos")
        seed(theirs, "videos", "content", sent)
        assert [p.operator for p in theirs.measurements.profiles("videos")] == ["decode"]
        theirs.measurements.save_profiles("videos", [detect])  # the worker measured this
        back = learned(theirs, "videos", "content", sent)
        assert [p.operator for p in back.profiles] == ["detect"]  # not what it was sent
        store(ours, "videos", back)
        assert sorted(p.operator for p in ours.measurements.profiles("videos")) == \
            ["decode", "detect"]


def test_an_accuracy_profile_measured_by_a_worker_is_reused_by_the_next_run(
        tmp_path: Path, videos: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    (root / "road.mp4").symlink_to(videos / "car-detection.mp4")
    sql = "SELECT frame_id, len(detect(frame)) AS n FROM videos WITH ACCURACY 0.9;\n"
    first, exact = _run(tmp_path, "a", sql, f"{root}/*.mp4", 1)

    def profile() -> list[tuple[object, ...]]:
        with vql.connect(str(tmp_path / "runs.duckdb")) as con:
            return con.execute("SELECT knob, value, accuracy, measured_at "
                               "FROM vql_catalog.video_accuracy ORDER BY ALL").fetchall()

    measured = profile()
    assert first.frames == 377 and len(measured) > 5  # exact, and profiled from that run
    with vql.connect(str(tmp_path / "runs.duckdb")) as con:
        con.execute("CLEAR CACHE")  # the next run cannot answer from the cached detections
    second, lossy = _run(tmp_path, "b", sql, f"{root}/*.mp4", 1)
    assert profile() == measured  # reused, not measured again
    assert first.accuracy == 1.0 and first.lossy == 0  # the first run was exact
    assert second.lossy == 1 and second.accuracy is not None  # a cheaper plan, from the profile
    assert 0.9 <= second.accuracy < 1.0
    with vql.connect(str(tmp_path / "runs.duckdb")) as con:  # the estimate is kept per video
        kept = con.execute("SELECT accuracy FROM vql_catalog.run_videos ORDER BY finished_at"
                           ).fetchall()
    assert kept == [(1.0,), (second.accuracy,)]
    agree = sum(a["n"] == b["n"] for a, b in zip(exact, lossy, strict=True)) / len(exact)
    assert agree >= 0.85
