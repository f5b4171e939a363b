"""A target on a live table (vql/exec/adapt.py, vql/exec/live_fill.py): the road video served
from 10.5 s in (the sender starts at the keyframe of frame 120, 9.6 s). By
tests/labels/road_vehicles.csv the road is empty until file frame 181 (stream frame 61, 4.9 s),
two cars drive through until frame 238 (stream frame 118, 9.4 s), then it is empty again until
frame 314: the content changes half-way, and the knobs must follow it."""

from __future__ import annotations

from pathlib import Path

import pytest
from vql.udfs.detect import DETECTIONS

import vql
from vql.accuracy.metrics import column_accuracy

START_FRAME = 120          # the file's frame the stream starts at
CARS = (61, 118)           # stream frames with cars in view (labels: file frames 181..238)
ROWS = 175                 # 14 s of stream: the empty road after the cars is profiled too


@pytest.fixture
def road_cam(con: vql.Connection, serve, road_video: Path):
    sender = serve(road_video, start_s=10.5)
    con.execute(f"CREATE VIDEO TABLE cam FROM '{sender.url}'")
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    return sender


def test_a_latency_target_watches_the_empty_road_cheaply_and_the_cars_closely(
        con: vql.Connection, road_cam) -> None:
    cursor = con.execute(f"SELECT frame_id, computed, detect(frame) AS d FROM cam LIMIT {ROWS} "
                         "WITH LATENCY 500ms")
    rows = cursor.fetchall()
    control = cursor.tuning.live
    assert [r[0] for r in rows] == list(range(ROWS))  # every frame has its row
    switches = [(s.ts * 12.5, s.option.processed_fps(12.5), s.reason) for s in control.switches]
    # the empty road was profiled and watched at 1 frame a second or less before the cars
    assert any(frame < CARS[0] and fps <= 1 and "profiled" in why
               for frame, fps, why in switches), switches
    # the cars changed the scene: it processed 5 frames a second or more while they passed
    assert any(CARS[0] <= frame < CARS[1] and fps >= 5 for frame, fps, _ in switches), switches
    assert control.refreshes >= 2

    def computed(first: int, last: int) -> float:
        return sum(r[1] for r in rows[first:last]) / (last - first)

    assert computed(CARS[0] + 15, CARS[1]) > 2 * computed(30, CARS[0])
    # the estimate is measured as a user would: the rows against every frame of the file
    exact = con.execute("SELECT detect(frame) FROM road WHERE frame_id >= ? ORDER BY frame_id "
                        f"LIMIT {ROWS}", [START_FRAME]).fetchall()
    measured = column_accuracy(DETECTIONS, [e[0] for e in exact], [r[2] for r in rows])
    estimated = cursor.estimated_accuracy
    assert estimated is not None and abs(measured - estimated) < 0.2, (measured, estimated)
    stream = cursor.streams["cam"]
    assert stream.frames_filled == sum(not r[1] for r in rows)
    assert "filled" in stream.describe() and "estimated accuracy" in stream.describe()


def test_explain_shows_the_adapting_plan_and_a_stateful_function_keeps_every_frame(
        con: vql.Connection, road_cam) -> None:
    plan = "\n".join(r[0] for r in con.execute(
        "EXPLAIN SELECT frame_id, detect(frame) FROM cam WITH LATENCY 500ms").fetchall())
    assert "Adapt (each row within 500 ms of its frame's arrival)" in plan
    assert "live controller: 10 options" in plan
    plan = "\n".join(r[0] for r in con.execute(
        "EXPLAIN SELECT frame_id, motion(frame) FROM cam WITH LATENCY 500ms").fetchall())
    assert "Adapt" not in plan and "motion is stateful" in plan
