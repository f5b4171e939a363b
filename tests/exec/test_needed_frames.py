"""Queries decode and compute only what their answer needs: a function inside a CASE branch
runs only on the rows that reach the branch (cursor.stats counts it), with the same answer."""

from __future__ import annotations

import statistics

import vql

ROWS = "FROM room WHERE frame_id BETWEEN 60 AND 139"  # 80 frames, people come and go


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
