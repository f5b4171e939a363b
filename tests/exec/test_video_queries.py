"""Queries over real videos, end to end through the DB-API."""

from __future__ import annotations

from pathlib import Path

import cv2
import decord
import numpy as np
import onnxruntime as ort
import pytest

import vql

ROOM_FRAMES = 1394
ROAD_FRAMES = 377
# The handwritten loop checks the room's first 50 s: two visits, the empty room before, between
# and after them (tests/labels/room_people.csv), at a third of the whole video's cost.
LOOP_FRAMES = 500


def _nms_keeps_person(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> bool:
    """Greedy, class-agnostic NMS at IoU 0.45 (FastestDet's reference), written out plainly."""
    order = list(np.argsort(-scores))
    while order:
        best = order.pop(0)
        if labels[best] == 0:
            return True
        survivors = []
        for other in order:
            x1 = max(boxes[best][0], boxes[other][0])
            y1 = max(boxes[best][1], boxes[other][1])
            x2 = min(boxes[best][2], boxes[other][2])
            y2 = min(boxes[best][3], boxes[other][3])
            inter = max(x2 - x1, 0) * max(y2 - y1, 0)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[best]) + area(boxes[other]) - inter) <= 0.45:
                survivors.append(other)
        order = survivors
    return False


def handwritten_person_frames(video: Path, model_dir: Path, frames: int) -> list[int]:
    """What a careful programmer writes without VQL: decord + onnxruntime + FastestDet's
    published pre- and post-processing, frame by frame (the first ``frames``)."""
    session = ort.InferenceSession(str(model_dir / "FastestDet.onnx"),
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    reader = decord.VideoReader(str(video))
    hits = []
    for start in range(0, min(frames, len(reader)), 64):
        ids = list(range(start, min(start + 64, frames, len(reader))))
        for frame_id, frame in zip(ids, reader.get_batch(ids).asnumpy()):
            height, width = frame.shape[:2]
            image = cv2.resize(frame[:, :, ::-1], (352, 352), interpolation=cv2.INTER_AREA)
            tensor = (image.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
            out = session.run(None, {name: tensor})[0][0]
            score = out[0].clip(0) ** 0.6 * out[5:].max(0).clip(0) ** 0.4
            hs, ws = np.nonzero(score > 0.65)
            if not len(hs):
                continue
            cx = (ws + np.tanh(out[1, hs, ws])) / 22
            cy = (hs + np.tanh(out[2, hs, ws])) / 22
            bw = 1 / (1 + np.exp(-out[3, hs, ws]))
            bh = 1 / (1 + np.exp(-out[4, hs, ws]))
            boxes = np.stack([(cx - bw / 2) * width, (cy - bh / 2) * height,
                              (cx + bw / 2) * width, (cy + bh / 2) * height], 1)
            boxes = boxes.clip(0, [width, height, width, height])
            if _nms_keeps_person(boxes, score[hs, ws], out[5:].argmax(0)[hs, ws]):
                hits.append(frame_id)
    return hits


@pytest.fixture(scope="module")
def loop_person_frames(room_video: Path, fastestdet_dir: Path) -> list[int]:
    return handwritten_person_frames(room_video, fastestdet_dir, LOOP_FRAMES)


def test_count_star_decodes_nothing(room: vql.Connection) -> None:
    cur = room.execute("SELECT count(*), min(ts), max(frame_id) FROM room")
    assert cur.fetchall() == [(ROOM_FRAMES, 0.0, ROOM_FRAMES - 1)]
    assert cur.stats is not None and cur.stats.frames_decoded == 0


def test_metadata_columns_come_from_the_catalog(room: vql.Connection) -> None:
    cur = room.execute("SELECT frame_id, ts, fps, width, height FROM room WHERE frame_id < 3")
    assert cur.fetchall() == [(0, 0.0, 10.0, 768, 432), (1, 0.1, 10.0, 768, 432),
                              (2, 0.2, 10.0, 768, 432)]
    assert cur.stats is not None and cur.stats.frames_decoded == 0


@pytest.mark.slow
def test_has_object_equals_a_handwritten_loop(room: vql.Connection,
                                              loop_person_frames: list[int]) -> None:
    cur = room.execute("SELECT frame_id, ts FROM room WHERE has_object(frame, 'person') "
                       "AND frame_id < ?", [LOOP_FRAMES])
    rows = cur.fetchall()
    assert [frame_id for frame_id, _ in rows] == loop_person_frames
    assert 0 < len(rows) < LOOP_FRAMES - 100  # people come and go; the empty room has nobody
    assert all(abs(ts - frame_id / 10) < 1e-9 for frame_id, ts in rows)


@pytest.mark.slow
def test_sample_one_fps_touches_one_frame_per_second(room: vql.Connection,
                                                     loop_person_frames: list[int]) -> None:
    cur = room.execute("SELECT frame_id FROM room WHERE has_object(frame, 'person') "
                       "AND frame_id < ? SAMPLE 1 FPS", [LOOP_FRAMES])
    rows = [r[0] for r in cur.fetchall()]
    assert cur.stats is not None
    assert cur.stats.frames_decoded == LOOP_FRAMES // 10  # 50 s of video, a frame a second
    sampled = [f for f in loop_person_frames if f % 10 == 0]  # 10 fps: every 10th frame
    assert rows == sampled


def test_sample_is_by_presentation_time_not_frame_count(road: vql.Connection) -> None:
    cur = road.execute("SELECT frame_id, ts FROM intersection SAMPLE 2 FPS")
    rows = cur.fetchall()
    assert len(rows) == 61  # 30.16 s at 12.5 fps, 2 per second of video
    ticks = [int(ts * 2 + 1e-9) for _, ts in rows]
    assert ticks == list(range(61))  # exactly one frame per half second
    assert cur.stats is not None and cur.stats.frames_decoded == 0  # no pixels needed


def test_limit_stops_decoding_early(road: vql.Connection) -> None:
    cur = road.execute("SELECT frame_id, brightness FROM intersection LIMIT 5")
    assert [r[0] for r in cur.fetchall()] == [0, 1, 2, 3, 4]
    assert cur.stats is not None and 5 <= cur.stats.frames_decoded <= 16  # one batch at most


def test_congested_returns_one_row_per_frame(road: vql.Connection) -> None:
    road.execute("ANALYZE intersection")  # else measuring costs eats into the 2 s
    cur = road.execute("SELECT congested FROM intersection WITH LATENCY 2s")
    rows = cur.fetchall()
    assert cur.description is not None and cur.description[0][0] == "congested"
    assert len(rows) == ROAD_FRAMES  # a lossy plan fills skipped frames: every row is there
    assert {r[0] for r in rows} == {True, False}
    assert cur.tuning is not None and cur.tuning.controller is not None


def test_congested_is_vehicle_count_over_the_threshold(road: vql.Connection) -> None:
    rows = road.execute("SELECT vehicle_count, congested, congested(frame, 1) FROM intersection"
                        ).fetchall()
    assert all(congested == (count >= 2) for count, congested, _ in rows)
    assert all(loose == (count >= 1) for count, _, loose in rows)


def test_frame_column_is_jpeg(road: vql.Connection) -> None:
    (frame, ), = road.execute("SELECT frame FROM intersection WHERE frame_id = 200").fetchall()
    image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (432, 768, 3)


def test_group_by_and_window_run_in_duckdb_over_udf_results(road: vql.Connection) -> None:
    grouped = road.execute("""SELECT vehicle_count, count(*) FROM intersection
                              GROUP BY vehicle_count ORDER BY vehicle_count""").fetchall()
    assert sum(n for _, n in grouped) == ROAD_FRAMES
    windowed = road.execute("""SELECT frame_id, brightness - lag(brightness) OVER
                               (ORDER BY frame_id) AS change FROM intersection
                               ORDER BY frame_id LIMIT 3""").fetchall()
    assert windowed[0][1] is None and isinstance(windowed[1][1], float)


def test_join_with_a_plain_table(road: vql.Connection) -> None:
    road.execute("CREATE TABLE periods (name TEXT, t0 DOUBLE, t1 DOUBLE)")
    # The first car enters at 4.3 s; two cars are in view around 15 s.
    road.executemany("INSERT INTO periods VALUES (?, ?, ?)",
                     [("start", 0.0, 4.0), ("middle", 14.0, 19.0)])
    rows = road.execute("""SELECT p.name, max(i.vehicle_count) AS most
                           FROM intersection i JOIN periods p ON i.ts BETWEEN p.t0 AND p.t1
                           GROUP BY p.name ORDER BY p.name""").fetchall()
    assert rows == [("middle", 2), ("start", 0)]


def test_create_table_as_select_materialises_udf_results(road: vql.Connection) -> None:
    road.execute("CREATE TABLE busy AS SELECT frame_id, vehicle_count AS n FROM intersection "
                 "WHERE vehicle_count >= 2")
    (count, low), = road.execute("SELECT count(*), min(n) FROM busy").fetchall()
    assert count > 0 and low >= 2


def test_subqueries_and_ctes_over_video_tables(road: vql.Connection) -> None:
    (n,), = road.execute("""WITH c AS (SELECT ts, congested FROM intersection)
                           SELECT count(*) FROM c WHERE congested""").fetchall()
    (m,), = road.execute("""SELECT count(*) FROM (SELECT vehicle_count AS v
                           FROM intersection) WHERE v >= 2""").fetchall()
    assert n == m > 0
