"""Queries decode and compute only what their answer needs: a function inside a CASE branch
runs only on the rows that reach the branch (cursor.stats counts it), with the same answer."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

import vql
from vql.settings import Settings

ROWS = "FROM room WHERE frame_id BETWEEN 60 AND 139"  # 80 frames, people come and go


@pytest.fixture
def uncached_road(road_video: Path) -> Iterator[vql.Connection]:
    con = vql.connect(":memory:", settings=dataclasses.replace(Settings.from_env(), cache_mb=0))
    con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
    yield con
    con.close()


def test_a_function_in_a_case_branch_runs_only_where_the_branch_is_reached(
        room: vql.Connection) -> None:
    levels = [r[0] for r in room.execute(f"SELECT brightness {ROWS}").fetchall()]
    middle = statistics.median(levels)
    everything = room.execute(
        f"SELECT frame_id, brightness > {middle}, count_objects(frame, 'person'), "
        f"len(detect(frame)) {ROWS} ORDER BY frame_id").fetchall()
    cur = room.execute(
        f"""SELECT frame_id,
                   CASE WHEN brightness > {middle} THEN count_objects(frame, 'person')
                        ELSE -1 END AS people,
                   CASE WHEN frame_id % 4 = 0 THEN len(detect(frame)) END AS seen
            {ROWS} ORDER BY frame_id""")
    rows = cur.fetchall()
    assert rows == [(f, c if bright else -1, d if f % 4 == 0 else None)
                    for f, bright, c, d in everything]
    needed = sum(1 for f, bright, _, _ in everything if bright or f % 4 == 0)
    assert cur.stats is not None
    assert cur.stats.udf_frames["detect"] == needed < len(everything)
    assert cur.stats.udf_frames["brightness"] == len(everything)


def test_a_call_also_needed_outside_the_case_runs_everywhere(room: vql.Connection) -> None:
    cur = room.execute(f"SELECT has_object(frame, 'person'), CASE WHEN frame_id % 2 = 0 "
                       f"THEN count_objects(frame, 'person') END {ROWS}")
    cur.fetchall()
    assert cur.stats is not None and cur.stats.udf_frames["detect"] == 80
    plan = "\n".join(r[0] for r in room.execute(
        f"EXPLAIN SELECT CASE WHEN frame_id % 2 = 0 THEN has_object(frame, 'person') END {ROWS}"))
    assert "only where (frame_id % 2 = 0) IS TRUE" in plan


# --- semi-join reduction: a join on frame keys decodes only the frames that can match ------

def test_a_join_on_frame_keys_decodes_only_the_matching_frames(room: vql.Connection) -> None:
    room.execute("CREATE TABLE events AS SELECT * FROM (VALUES (100, 'enter'), (700, 'gone'), "
                 "(1000, 'stay')) t(frame_id, name)")
    cur = room.execute("SELECT e.name, has_object(r.frame, 'person') FROM events e "
                       "JOIN room r ON r.frame_id = e.frame_id ORDER BY e.name")
    assert cur.fetchall() == [("enter", True), ("gone", False), ("stay", True)]
    assert cur.stats is not None and cur.stats.frames_decoded == 3
    assert cur.stats.udf_frames["detect"] == 3


def test_an_in_subquery_and_a_left_join_into_the_video_are_reduced(room: vql.Connection) -> None:
    room.execute("CREATE TABLE marks (frame_id INTEGER, kind VARCHAR)")
    room.execute("INSERT INTO marks VALUES (101, 'x'), (701, 'y'), (1001, 'x')")
    cur = room.execute("SELECT frame_id, count_objects(frame, 'person') FROM room "
                       "WHERE frame_id IN (SELECT frame_id FROM marks WHERE kind = 'x') "
                       "ORDER BY frame_id")
    assert cur.fetchall() == [(101, 1), (1001, 1)]
    assert cur.stats is not None and cur.stats.frames_decoded == 2
    cur = room.execute("SELECT m.kind, r.ts FROM marks m LEFT JOIN room r "
                       "ON r.frame_id = m.frame_id AND brightness(r.frame) > 0 ORDER BY m.kind")
    assert [r[0] for r in cur.fetchall()] == ["x", "x", "y"]
    assert cur.stats is not None and cur.stats.frames_decoded == 3


def test_a_join_that_keeps_unmatched_video_rows_is_not_reduced(road: vql.Connection) -> None:
    road.execute("CREATE TABLE few AS SELECT 5 AS frame_id")
    cur = road.execute("SELECT count(*), count(f.frame_id), sum(brightness(r.frame)) > 0 "
                       "FROM intersection r LEFT JOIN few f ON r.frame_id = f.frame_id")
    assert cur.fetchall() == [(377, 1, True)]
    assert cur.stats is not None and cur.stats.frames_decoded == 377


# --- found in review: cases where a guard or a reduction must not apply ----------------------

def _same(con: vql.Connection, sql: str, plain_sql: str) -> None:
    """``sql`` gives what ``plain_sql`` gives: the same query with the function computed in a
    CTE over every frame, where no guard or reduction applies."""
    assert con.execute(sql).fetchall() == con.execute(plain_sql).fetchall()


V = ("WITH v AS (SELECT frame_id, ts, brightness(frame) AS b, count_objects(frame, 'car') AS c "
     "FROM intersection WHERE frame_id < 40) ")


def test_guards_keep_every_value_a_case_reads(road: vql.Connection) -> None:
    road.execute("CREATE TABLE p AS SELECT range AS fid, range % 3 = 0 AS flag FROM range(40)")
    rows = "FROM intersection WHERE frame_id < 40"
    # a window reads the value on another row than the CASE's
    _same(road, "SELECT frame_id, CASE WHEN frame_id % 2 = 0 THEN lag(brightness(frame)) "
                f"OVER (ORDER BY frame_id) END {rows} ORDER BY frame_id",
          V + "SELECT frame_id, CASE WHEN frame_id % 2 = 0 THEN lag(b) OVER (ORDER BY "
              "frame_id) END FROM v ORDER BY frame_id")
    # a lambda's parameter is not a column
    _same(road, "SELECT frame_id, list_transform([1, 2], lambda x: CASE WHEN x = 2 THEN "
                f"brightness(frame) END) {rows} ORDER BY frame_id",
          V + "SELECT frame_id, list_transform([1, 2], lambda x: CASE WHEN x = 2 THEN b END) "
              "FROM v ORDER BY frame_id")
    # a condition on another table's column
    _same(road, "SELECT r.frame_id, CASE WHEN flag THEN brightness(r.frame) END FROM "
                "intersection r JOIN p ON p.fid = r.frame_id ORDER BY 1",
          V + "SELECT v.frame_id, CASE WHEN flag THEN b END FROM v JOIN p ON p.fid = v.frame_id "
              "ORDER BY 1")
    # random() draws differently in the pipeline: a taken branch never reads NULL
    (nulls,), = road.execute(f"SELECT count(*) FROM (SELECT CASE WHEN random() < 0.5 THEN "
                             f"brightness(frame) ELSE -1 END AS b {rows}) WHERE b IS NULL"
                             ).fetchall()
    assert nulls == 0
    # a filter that pulls the guarded call forward brings the call its guard reads with it
    _same(road, f"SELECT frame_id, CASE WHEN brightness(frame) > 0 THEN count_objects(frame, "
                f"'car') END {rows} AND CASE WHEN frame_id > 5 THEN "
                "count_objects(frame, 'car') >= 0 ELSE true END ORDER BY 1",
          V + "SELECT frame_id, CASE WHEN b > 0 THEN c END FROM v WHERE CASE WHEN frame_id > 5 "
              "THEN c >= 0 ELSE true END ORDER BY 1")


def test_a_sampled_plan_computes_guarded_functions_on_every_processed_frame(
        uncached_road: vql.Connection) -> None:
    sql = ("SELECT frame_id, CASE WHEN frame_id % 2 = 0 THEN brightness(frame) END AS b "
           "FROM intersection")
    for _ in range(2):  # the first run is exact and profiles; the second is sampled
        cur = uncached_road.execute(sql + " WITH ACCURACY 0.5")
        rows = cur.fetchall()
        assert all(b is not None for f, b in rows if f % 2 == 0)
    assert cur.tuning is not None and cur.tuning.lossy


def test_keys_that_are_not_plain_numbers_are_not_used_to_reduce(road: vql.Connection) -> None:
    road.execute("CREATE TABLE d AS SELECT CAST(range * 5 AS DECIMAL(6, 2)) AS fid, "
                 "CAST(range * 5 AS VARCHAR) AS s, CAST(range * 0.4 AS DECIMAL(6, 3)) AS t "
                 "FROM range(4)")
    road.execute("CREATE TABLE n AS SELECT 'nan'::DOUBLE AS x UNION ALL SELECT 3")
    for on, plain in (("r.frame_id = d.fid", "v.frame_id = d.fid"),
                      ("r.frame_id = d.s", "v.frame_id = d.s"), ("r.ts = d.t", "v.ts = d.t")):
        _same(road, f"SELECT r.frame_id FROM intersection r JOIN d ON {on} "
                    "WHERE brightness(r.frame) > 0 ORDER BY 1",
              V + f"SELECT v.frame_id FROM v JOIN d ON {plain} WHERE b > 0 ORDER BY 1")
        assert len(road.execute(f"SELECT r.frame_id FROM intersection r JOIN d ON {on} "
                                "WHERE brightness(r.frame) > 0").fetchall()) == 4
    assert road.execute("SELECT count(*) FROM intersection r JOIN n ON r.frame_id = n.x "
                        "WHERE brightness(r.frame) > 0").fetchall() == [(1,)]


def test_a_cte_that_shadows_a_table_is_not_read_as_the_table(road: vql.Connection) -> None:
    road.execute("CREATE TABLE d AS SELECT 7 AS fid")
    assert road.execute("WITH d AS (SELECT 10 AS fid) SELECT r.frame_id FROM intersection r "
                        "WHERE r.frame_id IN (SELECT fid FROM d) AND brightness(r.frame) > 0"
                        ).fetchall() == [(10,)]
