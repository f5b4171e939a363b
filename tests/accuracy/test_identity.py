"""Identity F1 of tracks: a split, a late start, a swap and a track elsewhere each cost what
they cover."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vql.accuracy.metrics import column_scores

PATH = pa.list_(pa.struct([("ts", pa.float64()), ("x", pa.float64()), ("y", pa.float64())]))
SCHEMA = pa.schema([("video_id", pa.int64()), ("track_id", pa.int64()), ("path", PATH)])


def walk(track_id: int, start: int, stop: int, x: float = 0.0, step: float = 10.0,
         video: int = 1) -> dict[str, object]:
    """A track walking right from ``x`` at ``step`` pixels per tick, ticks start..stop-1."""
    return {"video_id": video, "track_id": track_id,
            "path": [{"ts": t / 10, "x": x + step * (t - start), "y": 100.0}
                     for t in range(start, stop)]}


def score(reference: list[dict[str, object]], result: list[dict[str, object]],
          schema: pa.Schema = SCHEMA) -> float:
    scores = column_scores("tracks", pa.Table.from_pylist(reference, schema),
                           pa.Table.from_pylist(result, schema))
    assert list(scores) == ["identity"]
    return scores["identity"]


REFERENCE = [walk(1, 0, 20), walk(2, 10, 30, x=500)]


@pytest.mark.parametrize(("result", "expected"), [
    (REFERENCE, 1.0),
    ([walk(7, 0, 20), walk(9, 10, 30, x=500)], 1.0),       # other ids, same objects
    ([walk(1, 0, 20)], 2 * 20 / (40 + 20)),                 # one object missed
    ([walk(1, 0, 10), walk(3, 10, 20, x=100), walk(2, 10, 30, x=500)],  # one split in two
     2 * 30 / (40 + 40)),
    ([walk(1, 5, 20, x=50), walk(2, 10, 30, x=500)], 2 * 35 / (40 + 35)),  # a late start
    ([walk(1, 0, 20, x=300), walk(2, 10, 30, x=800)], 0.0),  # 300 px away: not them
    ([], 0.0),
])
def test_identity_f1_of_paths(result: list[dict[str, object]], expected: float) -> None:
    assert score(REFERENCE, result) == pytest.approx(expected)


def test_a_sampled_path_is_placed_between_its_points() -> None:
    # Every fifth point of each track (a plan sampling 2 of 10 FPS): positions in between are
    # interpolated, so only the ticks after a track's last sample are lost.
    sampled = [{**r, "path": r["path"][::5]} for r in REFERENCE]
    assert score(REFERENCE, sampled) == pytest.approx(2 * 32 / (40 + 32))


def test_tracks_known_by_their_times() -> None:
    schema = pa.schema([("track_id", pa.int64()), ("first_ts", pa.float64()),
                        ("last_ts", pa.float64())])
    reference = [{"track_id": 1, "first_ts": 0.0, "last_ts": 0.9},
                 {"track_id": 2, "first_ts": 2.0, "last_ts": 2.9}]
    assert score(reference, reference, schema) == 1.0
    late = [{"track_id": 5, "first_ts": 0.5, "last_ts": 0.9}, reference[1]]
    assert score(reference, late, schema) == pytest.approx(2 * 15 / (20 + 15))
    merged = [{"track_id": 1, "first_ts": 0.0, "last_ts": 2.9}]  # one id for both: and between
    assert score(reference, merged, schema) == pytest.approx(2 * 10 / (20 + 30))


def test_tracked_boxes_per_frame_are_scored_by_identity() -> None:
    kind = pa.list_(pa.struct([("track_id", pa.int64()), ("label", pa.string()),
                               ("x1", pa.float64()), ("y1", pa.float64()),
                               ("x2", pa.float64()), ("y2", pa.float64())]))

    def box(track_id: int, x: float) -> dict[str, object]:
        return {"track_id": track_id, "label": "person", "x1": x, "y1": 0.0, "x2": x + 50,
                "y2": 100.0}
    frames = [[box(1, 0), box(2, 200)] for _ in range(4)]
    swapped = frames[:2] + [[box(2, 0), box(1, 200)] for _ in range(2)]  # ids swap halfway
    reference = pa.table({"objects": pa.array(frames, kind)})
    assert column_scores("per_frame", reference, reference) == {"objects": 1.0}
    got = column_scores("per_frame", reference, pa.table({"objects": pa.array(swapped, kind)}))
    assert got == {"objects": pytest.approx(0.5)}  # detection F1 would say 1.0
