"""track() and tracks() against what a person sees: the labels made by eye on the shared videos
(tests/labels/*.csv) list each car and each visit with the frames it is in view. A track is
right when it is the only one for its object (no split, no merge) and spans the frames the
object is in view to within 2 seconds at each end."""

from __future__ import annotations

import csv
import dataclasses
import textwrap
from pathlib import Path

import pytest

import vql
from vql.accuracy.metrics import column_scores
from vql.settings import Settings

LABELS = Path(__file__).resolve().parents[1] / "labels"
SLACK_S = 2.0  # the tolerance on visit times


def objects(name: str) -> list[dict[str, str]]:
    """The labelled objects of one video, in order of appearance."""
    with (LABELS / name).open() as file:
        return list(csv.DictReader(line for line in file if not line.startswith("#")))


def _matches(tracks: list[tuple[int, float, float]], labels: list[dict[str, str]],
             fps: float, slack: float = SLACK_S) -> None:
    """Each track pairs with the labelled object of the same rank, in view at the same time
    (within ``slack`` seconds at each end)."""
    assert len(tracks) == len(labels), (tracks, [(o["first_any"], o["last_any"]) for o in labels])
    for (track_id, first_ts, last_ts), label in zip(tracks, labels, strict=True):
        first, last = int(label["first_any"]) / fps, int(label["last_any"]) / fps
        assert abs(first_ts - first) <= slack, (track_id, first_ts, first)
        assert abs(last_ts - last) <= slack, (track_id, last_ts, last)


def test_cars_that_passed_are_counted_once_each(road: vql.Connection) -> None:
    assert road.execute("SELECT count(*) FROM tracks(intersection, 'vehicle')").fetchone() \
        == (len(objects("road_vehicles.csv")),)


def test_each_car_is_one_track_over_its_time_in_view_going_its_way(
        road: vql.Connection) -> None:
    rows = road.execute(
        "SELECT track_id, first_ts, last_ts, path[1].y AS y_in, path[-1].y AS y_out, frames, "
        "len(path) AS points, label FROM tracks(intersection, 'vehicle') ORDER BY first_ts"
    ).fetchall()
    labels = objects("road_vehicles.csv")
    _matches([r[:3] for r in rows], labels, 12.5)
    for row, label in zip(rows, labels, strict=True):
        going_up = row[4] < row[3]  # y points down the picture
        assert going_up == (label["direction"] == "bottom->top"), (row, label["direction"])
        assert row[5] == row[6] and row[7] == "vehicle"
    # IDs: 1, 2, ... in order of appearance, unique within the video
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))


def test_cars_per_direction_across_a_line(road: vql.Connection) -> None:
    rows = road.execute(
        "SELECT crossings(path, 0, 216, 768, 216) AS direction, count(*) "
        "FROM tracks(intersection, 'vehicle') GROUP BY direction ORDER BY direction").fetchall()
    directions = [o["direction"] for o in objects("road_vehicles.csv")]
    # +1: downwards on the screen (the line is drawn left to right); every car crosses it
    assert rows == [(-1, directions.count("bottom->top")), (1, directions.count("top->bottom"))]


def test_a_second_question_about_the_tracks_costs_nothing(road: vql.Connection) -> None:
    road.execute("SELECT count(*) FROM tracks(intersection, 'vehicle')").fetchall()
    cur = road.execute("SELECT track_id, dwell(path, [[0, 0], [384, 0], [384, 432], [0, 432]]) "
                       "FROM tracks(intersection, 'vehicle')")
    assert len(cur.fetchall()) == 4
    assert cur.stats.frames_decoded == 0 and cur.stats.frames_reused == 377


def test_sampled_cars_are_still_one_track_each(road: vql.Connection) -> None:
    # 2 of the 12.5 frames a second: a car lost for 2.4 s of samples ends, so the first car's
    # track does not live on to take the third car as its own (it did while counted in frames).
    cur = road.execute("SELECT track_id, first_ts, last_ts FROM tracks(intersection, "
                       "'vehicle') ORDER BY first_ts SAMPLE 2 FPS")
    rows = cur.fetchall()
    assert len(rows) == len(objects("road_vehicles.csv"))
    for (_, first_ts, last_ts), label in zip(rows, objects("road_vehicles.csv"), strict=True):
        assert int(label["first_any"]) / 12.5 <= first_ts <= last_ts <= \
            int(label["last_any"]) / 12.5
    assert cur.stats.udf_frames["track"] <= 2 * 31


def test_most_cars_at_once(road: vql.Connection) -> None:
    # Cars 2 and 3 pass each other: two in view at once, never three (the labels).
    assert road.execute("SELECT max(len(track(frame, 'vehicle'))) FROM intersection"
                        ).fetchone() == (2,)


TABLE = "[[380, 330], [540, 330], [540, 432], [380, 432]]"  # the floor around the table's stand


@pytest.mark.slow
def test_each_visit_to_the_room_is_one_track(room: vql.Connection) -> None:
    rows = room.execute(f"SELECT track_id, first_ts, last_ts, label, dwell(path, {TABLE}), "
                        f"entered(path, {TABLE}) FROM tracks(room, 'person') ORDER BY first_ts"
                        ).fetchall()
    _matches([r[:3] for r in rows], objects("room_people.csv"), 10.0)
    assert {r[3] for r in rows} == {"person"}
    # Each visitor walks to the table, stands there, and leaves through the right edge (the
    # labels' notes, and frames looked at every 10 s): most of each visit is at the table.
    for _, first, last, _, at_table, reached in rows:
        assert 0.6 * (last - first) <= at_table <= last - first
        assert first <= reached <= first + 2.0


def test_a_sampled_track_is_still_one_track(room: vql.Connection) -> None:
    # The tracker is told when each sampled frame is: 2 frames a second of the 10 FPS video
    # still give one track per visit (the detector runs on a fifth of the frames).
    cur = room.execute("SELECT track_id, first_ts, last_ts FROM tracks(room, 'person') "
                       "ORDER BY first_ts SAMPLE 2 FPS")
    _matches(cur.fetchall(), objects("room_people.csv"), 10.0)
    assert cur.stats.udf_frames["track"] <= 1394 // 5 + 1


def test_a_visitor_missed_in_one_sample_is_still_one_track(room: vql.Connection) -> None:
    # Three seconds apart, FastestDet misses a visitor now and then: the track waits one and a
    # half sampling intervals and is matched to the box it last saw (OC-SORT); ByteTrack made
    # 13 tracks of the 6 visits here.
    cur = room.execute("SELECT track_id, first_ts, last_ts FROM tracks(room, 'person') "
                       "ORDER BY first_ts SAMPLE 0.33 FPS")
    _matches(cur.fetchall(), objects("room_people.csv"), 10.0, SLACK_S + 3.0)


@pytest.mark.slow
def test_tracks_with_a_target_sample_and_find_the_same_visits(room_video: Path) -> None:
    settings = dataclasses.replace(Settings.from_env(), cache_mb=0)  # each run computes
    with vql.connect(settings=settings) as con:
        con.execute("LOAD VIDEO ? INTO room", [str(room_video)])
        sql = "SELECT track_id, first_ts, last_ts FROM tracks(room, 'person') WITH ACCURACY 0.9"
        runs = []
        for _ in range(3):  # record the exact run, run the rates for real, run the plan
            cur = con.cursor()
            runs.append(cur.execute(sql).fetch_arrow_table().sort_by("first_ts"))
        assert cur.tuning is not None and cur.tuning.lossy and cur.tuning.shape == "tracks"
        assert cur.stats.udf_frames["track"] < 1394 // 2
        # The same six visits; the estimate (identity F1 on clips) holds on the whole video.
        exact, sampled = runs[0], runs[-1]
        assert cur.estimated_accuracy is not None and cur.estimated_accuracy >= 0.9
        assert column_scores("tracks", exact, sampled)["identity"] >= 0.85
        chosen = cur.tuning.chosen
        assert chosen is not None and chosen.config.fps is not None
        # Each visit within the labels' 2 s, and one sampling interval more at each end
        # (a plan sampling r frames a second sees an arrival up to 1/r s late).
        late = 1 / chosen.config.fps
        visits = [tuple(r.values()) for r in sampled.to_pylist()]
        assert len(visits) == 6
        for (_, first_ts, last_ts), label in zip(visits, objects("room_people.csv"), strict=True):
            assert int(label["first_any"]) / 10 - SLACK_S <= first_ts
            assert first_ts <= int(label["first_any"]) / 10 + SLACK_S + late
            assert int(label["last_any"]) / 10 - SLACK_S - late <= last_ts
            assert last_ts <= int(label["last_any"]) / 10 + SLACK_S


DETECTORS = textwrap.dedent('''
    import pyarrow as pa
    import vql
    from vql.udfs.detect import DETECTIONS, load_detector

    @vql.udf(inputs=["frame", "conf:float=0.7"], returns=DETECTIONS, cost_ms=15)
    def people(frames, conf):
        """A user's person detector: FastestDet's people scored conf or more."""
        found = load_detector("fastestdet")(frames, conf)
        return [[d for d in objects if d["label"] == "person"] for objects in found]

    @vql.udf(inputs=["frame"], returns=pa.float64())
    def mean_level(frames):
        """Not boxes."""
        return frames.reshape(len(frames), -1).mean(axis=1)

    @vql.udf(inputs=["frame", "conf:float"], returns=DETECTIONS)
    def needs_conf(frames, conf):
        """Boxes, but only with a conf given."""
        return [[] for _ in frames]
''')


def test_a_users_detector_feeds_track(room: vql.Connection, tmp_path: Path) -> None:
    (tmp_path / "detectors.py").write_text(DETECTORS)
    for name in ("people", "mean_level", "needs_conf"):
        room.execute(f"CREATE FUNCTION {name} FROM '{tmp_path / 'detectors.py'}'")
    # The first visit (the labels), over the first 20 s, tracked from the user's boxes alone.
    rows = room.execute(
        "SELECT o.track_id, o.label, min(ts), max(ts) FROM (SELECT ts, unnest(t) AS o FROM "
        "(SELECT ts, track(frame, 'people') AS t FROM room WHERE ts < 20)) GROUP BY ALL").fetchall()
    first = objects("room_people.csv")[0]
    assert [r[:2] for r in rows] == [(1, "person")]
    assert abs(rows[0][2] - int(first["first_any"]) / 10.0) <= SLACK_S
    assert abs(rows[0][3] - int(first["last_any"]) / 10.0) <= SLACK_S
    plan = room.execute("EXPLAIN SELECT count(*) FROM tracks(room, 'people')").fetchall()
    assert "track(frame, 'people')" in "\n".join(r[0] for r in plan)
    for name, message in [("mean_level", "mean_level returns double; a detector feeding "
                                         "track must return a list of structs"),
                          ("needs_conf", r"needs_conf\(frame, conf DOUBLE\) can feed it only "
                                         "if its parameters after frame have defaults")]:
        with pytest.raises(vql.ProgrammingError, match=message):
            room.execute(f"SELECT count(*) FROM tracks(room, '{name}')")


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT * FROM tracks(nowhere)", "'nowhere' is not a video table"),
    ("SELECT * FROM tracks(room, 'persn')", r"no class 'persn' \(did you mean 'person'\?\).*"
                                             r"a detection model or the name of a function "
                                             r"returning detect's shape \(line 1, column 15\)"),
    ("SELECT * FROM tracks(room, 3)", "what is a string"),
    ("SELECT * FROM tracks()", "0 arguments given"),
])
def test_wrong_calls_say_what_is_wrong(room: vql.Connection, sql: str, message: str) -> None:
    with pytest.raises(vql.ProgrammingError, match=message):
        room.execute(sql)
