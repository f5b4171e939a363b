"""The result cache: a later query reads the function values an earlier one computed, and
returns exactly what computing them again would (hit, partial hit, miss, invalidation when a
file changes, eviction, CLEAR CACHE, versions of user functions)."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from pathlib import Path

import pytest

import vql
from vql.settings import Settings

DETECT = "SELECT frame_id, detect(frame) AS d FROM intersection WHERE frame_id < {n}"
BRIGHT = "SELECT frame_id, brightness FROM intersection"


def uncached(video: Path, sql: str) -> list[tuple]:
    """The rows from a connection without a cache."""
    settings = dataclasses.replace(Settings.from_env(), cache_mb=0)
    with vql.connect(":memory:", settings=settings) as con:
        con.execute("LOAD VIDEO ? INTO intersection", [str(video)])
        plan = "\n".join(r[0] for r in con.execute("EXPLAIN " + sql).fetchall())
        assert "Reuse" not in plan  # the cache is off
        return con.execute(sql).fetchall()


def test_a_second_query_reads_the_values_instead_of_decoding(road: vql.Connection,
                                                             road_video: Path) -> None:
    sql = DETECT.format(n=40)
    first = road.execute(sql)
    rows = first.fetchall()
    assert first.stats.frames_decoded == 40 and first.stats.frames_reused == 0
    second = road.execute(sql)
    assert second.fetchall() == rows == uncached(road_video, sql)
    assert second.stats.frames_decoded == 0 and second.stats.frames_reused == 40
    assert second.stats.udf_frames["detect"] == 0


def test_only_the_missing_frames_are_computed(road: vql.Connection, road_video: Path) -> None:
    road.execute(DETECT.format(n=30)).fetchall()
    sql = DETECT.format(n=50)
    cur = road.execute(sql)
    assert cur.fetchall() == uncached(road_video, sql)
    assert cur.stats.frames_reused == 30 and cur.stats.frames_decoded == 20
    again = road.execute(sql)
    again.fetchall()
    assert again.stats.frames_reused == 50 and again.stats.frames_decoded == 0


def test_values_are_keyed_by_content_not_path(road: vql.Connection, road_video: Path,
                                             tmp_path: Path) -> None:
    road.execute(BRIGHT).fetchall()
    copy = tmp_path / "copy.mp4"
    shutil.copy(road_video, copy)
    road.execute("CREATE VIDEO TABLE other FROM ?", [str(copy)])
    cur = road.execute("SELECT frame_id, brightness FROM other")
    assert cur.fetchall() == road.execute(BRIGHT).fetchall()
    assert cur.stats.frames_decoded == 0 and cur.stats.frames_reused == 377


def test_a_changed_file_misses_and_its_old_values_are_dropped(
        con: vql.Connection, road_video: Path, room_video: Path, tmp_path: Path) -> None:
    path = tmp_path / "cam.mp4"
    shutil.copy(road_video, path)
    con.execute("LOAD VIDEO ? INTO intersection", [str(path)])
    con.execute(BRIGHT + " WHERE frame_id < 100").fetchall()
    shutil.copy(room_video, path)  # the camera's file is replaced
    with pytest.raises(vql.Error, match="changed since it was loaded"):
        con.execute(BRIGHT).fetchall()
    con.execute("LOAD VIDEO ? INTO intersection", [str(path)])
    cur = con.execute(BRIGHT + " WHERE frame_id < 100")
    rows = cur.fetchall()
    assert cur.stats.frames_reused == 0 and cur.stats.frames_decoded == 100
    room = tmp_path / "room.mp4"
    shutil.copy(room_video, room)
    with vql.connect(":memory:") as fresh:
        fresh.execute("LOAD VIDEO ? INTO intersection", [str(room)])
        assert rows == fresh.execute(BRIGHT + " WHERE frame_id < 100").fetchall()
    con.execute("SELECT 1").fetchall()  # flushes (the old content's went at the LOAD)
    contents = {r[0] for r in con.execute(
        "SELECT content FROM vql_catalog.result_entries").fetchall()}
    assert contents == {r[0] for r in con.execute(
        "SELECT sha256 FROM vql_catalog.videos").fetchall()}


def test_the_least_recently_used_values_are_evicted_past_the_limit(road_video: Path,
                                                                   room_video: Path) -> None:
    # 20 kB holds the brightness of one of the two videos (about 12-16 bytes a frame), not both.
    settings = dataclasses.replace(Settings.from_env(), cache_mb=20 / 1024)
    with vql.connect(":memory:", settings=settings, autocommit=True) as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        con.execute("LOAD VIDEO ? INTO room", [str(room_video)])
        con.execute("SELECT brightness FROM room WHERE frame_id < 1000").fetchall()
        con.execute("SELECT brightness FROM road").fetchall()
        con.execute("SELECT 1").fetchall()
        entries = con.execute("SELECT content, bytes FROM vql_catalog.result_entries").fetchall()
        road_sha = con.execute("SELECT sha256 FROM vql_catalog.videos WHERE path = ?",
                               [str(road_video.resolve())]).fetchall()[0][0]
        assert [e[0] for e in entries] == [road_sha]  # the room's older values went
        assert entries[0][1] <= 20 * 1024
        cur = con.execute("SELECT brightness FROM room WHERE frame_id < 1000")
        cur.fetchall()
        assert cur.stats.frames_reused == 0


def test_clear_cache(road: vql.Connection) -> None:
    road.execute(BRIGHT).fetchall()
    road.execute(DETECT.format(n=10)).fetchall()
    assert road.execute("CLEAR CACHE brightness").fetchall() == [(1, 377)]
    cur = road.execute(BRIGHT)
    cur.fetchall()
    assert cur.stats.frames_reused == 0
    assert road.execute("CLEAR CACHE").fetchall() == [(2, 387)]
    with pytest.raises(vql.ProgrammingError, match="brightness"):
        road.execute("CLEAR CACHE brightnes")


def test_frame_selecting_queries_are_not_cached(road: vql.Connection) -> None:
    plan = "\n".join(r[0] for r in road.execute(
        "EXPLAIN SELECT frame, brightness FROM intersection").fetchall())
    assert "Reuse" not in plan


def test_a_stateful_function_is_served_for_whole_videos_only(road: vql.Connection) -> None:
    whole = "SELECT frame_id, motion FROM intersection ORDER BY 1"
    # A LIMIT computes the first frames in order: right, but not the whole video.
    road.execute("SELECT motion FROM intersection LIMIT 50").fetchall()
    cur = road.execute(whole)
    reference = cur.fetchall()
    assert cur.stats.frames_reused == 0 and cur.stats.frames_decoded == 377
    cur = road.execute(whole)
    assert cur.fetchall() == reference
    assert cur.stats.frames_reused == 377 and cur.stats.frames_decoded == 0
    # Sampled, motion compares each frame with the previous sampled one: computed afresh.
    cur = road.execute("SELECT frame_id, motion FROM intersection ORDER BY 1 SAMPLE 2 FPS")
    sampled = dict(cur.fetchall())
    assert cur.stats.frames_reused == 0
    assert sampled != {f: m for f, m in reference if f in sampled}
    plan = "\n".join(r[0] for r in road.execute("EXPLAIN " + whole).fetchall())
    assert "whole videos only" in plan


def test_editing_a_user_function_starts_a_new_cache(road: vql.Connection,
                                                   tmp_path: Path) -> None:
    source = textwrap.dedent('''
        import pyarrow as pa
        import vql

        @vql.udf(inputs=["frame"], returns=pa.float64())
        def redness(frames):
            return frames[..., 0].reshape(len(frames), -1).mean(axis=1) / {scale}
    ''')
    path = tmp_path / "red.py"
    path.write_text(source.format(scale=255.0))
    road.execute("CREATE FUNCTION redness FROM ?", [str(path)])
    sql = "SELECT redness FROM intersection WHERE frame_id < 20"
    before = road.execute(sql).fetchall()
    path.write_text(source.format(scale=1.0))
    road.execute("CREATE OR REPLACE FUNCTION redness FROM ?", [str(path)])
    cur = road.execute(sql)
    after = cur.fetchall()
    assert cur.stats.frames_reused == 0
    assert after[0][0] == pytest.approx(before[0][0] * 255)



def _estimate(con: vql.Connection, sql: str) -> str:
    text = "\n".join(r[0] for r in con.execute("EXPLAIN " + sql).fetchall())
    return text[text.index("== Estimates"):]


def test_estimates_count_the_frames_the_cache_serves(road: vql.Connection) -> None:
    sql = "SELECT frame_id, count_objects(frame, 'car') AS cars FROM intersection"
    before = _estimate(road, sql)
    assert "result cache" not in before and "detect(frame, 'fastestdet'): 377 frames" in before
    road.execute(sql).fetchall()
    after = _estimate(road, sql)
    assert "result cache: holds the values of about 100% of the frames" in after
    assert "detect(frame, 'fastestdet'): 0 frames" in after
    # Frames filtered before the cache is read may not be the cached ones: no claim is made.
    assert "result cache" not in _estimate(road, sql + " WHERE frame_id % 2 = 0")


def test_a_latency_target_runs_exactly_when_the_cache_holds_everything(
        road: vql.Connection) -> None:
    sql = "SELECT frame_id, count_objects(frame, 'car') AS cars FROM intersection"
    exact = road.execute(sql).fetchall()
    cursor = road.execute(sql + " WITH LATENCY 500ms")
    assert cursor.fetchall() == exact  # every row computed, none filled
    assert cursor.stats.rows_filled == 0 and cursor.stats.frames_reused == 377
    assert any("result cache holds the exact plan's values" in line
               for line in cursor.tuning.lines())


def test_a_connection_that_never_commits_still_reuses_values(road_video: Path) -> None:
    sql = "SELECT frame_id, brightness FROM intersection WHERE frame_id < 25"
    with vql.connect(":memory:") as con:  # PEP 249: a transaction stays open until commit
        con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
        first = con.execute(sql).fetchall()
        again = con.execute(sql)
        assert again.fetchall() == first and again.stats.frames_reused == 25


def test_two_pipelines_of_one_query_compute_a_stateful_function_once(
        road: vql.Connection, road_video: Path) -> None:
    # The subquery's pipeline computes motion over the whole video first (DuckDB builds the
    # IN list before it reads the outer rows); the outer pipeline takes those values.
    sql = ("SELECT frame_id, motion FROM intersection WHERE frame_id IN (SELECT frame_id FROM "
           "intersection WHERE motion > 0.01) ORDER BY 1")
    cur = road.execute(sql)
    assert cur.fetchall() == uncached(road_video, sql)
    assert cur.stats.frames_decoded == 377 and cur.stats.frames_reused == 377
