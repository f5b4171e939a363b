"""motion, moving_objects, vehicle_count, congested and brightness on the real videos."""

from __future__ import annotations

import vql


def test_motion_is_zero_on_the_first_frame_and_small_on_a_still_room(room: vql.Connection) -> None:
    rows = room.execute("SELECT motion FROM room WHERE frame_id < 20").fetchall()
    assert rows[0] == (0.0,)
    assert all(0 <= m < 0.01 for (m,) in rows)  # nobody in the room yet


def test_motion_rises_when_someone_walks_in(room: vql.Connection) -> None:
    (peak,), = room.execute("SELECT max(motion) FROM room WHERE ts < 20").fetchall()
    assert peak > 0.01


def test_moving_objects_counts_the_cars(road: vql.Connection) -> None:
    # Frames 100, 200 and 300 hold one car, two cars and an empty road (looked at by eye).
    rows = road.execute("SELECT frame_id, moving_objects, vehicle_count FROM intersection "
                        "WHERE frame_id IN (100, 200, 300) ORDER BY frame_id").fetchall()
    assert rows == [(100, 1, 1), (200, 2, 2), (300, 0, 0)]


def test_stateful_functions_are_declared_so(con: vql.Connection) -> None:
    cur = con.execute("SHOW FUNCTIONS")
    names = [d[0] for d in cur.description or ()]
    stateful = {row[0]: row[names.index("stateful")] for row in cur.fetchall()}
    assert stateful["motion"] is True and stateful["moving_objects"] is True
    assert stateful["detect"] is False and stateful["congested"] is None  # a macro


def test_vehicle_count_falls_back_to_moving_blobs_offline(road: vql.Connection) -> None:
    text = "\n".join(r[0] for r in road.execute("EXPLAIN SELECT vehicle_count FROM intersection"))
    assert "moving_objects(frame)" in text and "detect(" not in text
    assert "note: vehicle_count counts moving objects" in text


def test_brightness_is_a_fraction(road: vql.Connection) -> None:
    (low, high), = road.execute("SELECT min(brightness), max(brightness) FROM intersection "
                                "SAMPLE 1 FPS").fetchall()
    assert 0 < low <= high < 1
