"""Built-in functions against what a person sees: labels made by eye on the shared videos
(tests/labels/*.csv say how) hold vehicle_count, congested, has_object and count_objects to
measured figures, so a change that makes a built-in worse fails here.

A label file lists each object's frames: ``first_any``..``last_any`` (any part in view) and
``first_half``..``last_half`` (at least half of it in view). A frame's labelled count is the
objects at least half in view; an object only partly in view may be counted or not (a person
could argue either way), so any count between the two is right."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import vql

LABELS = Path(__file__).resolve().parents[1] / "labels"


def labelled(name: str, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the fewest and the most objects a person would count."""
    with (LABELS / name).open() as file:
        rows = list(csv.DictReader(line for line in file if not line.startswith("#")))
    ids = np.arange(frames)
    fewest = np.zeros(frames, dtype=int)
    most = np.zeros(frames, dtype=int)
    for row in rows:
        fewest += (ids >= int(row["first_half"])) & (ids <= int(row["last_half"]))
        most += (ids >= int(row["first_any"])) & (ids <= int(row["last_any"]))
    return fewest, most


def f1_where_sure(predicted: np.ndarray, surely_true: np.ndarray,
                  surely_false: np.ndarray) -> float:
    """F1 of ``predicted`` on the frames whose truth is not in doubt."""
    tp = int(np.sum(predicted & surely_true))
    fp = int(np.sum(predicted & surely_false))
    fn = int(np.sum(~predicted & surely_true))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def test_labels_are_consistent() -> None:
    for name, frames in (("road_vehicles.csv", 377), ("room_people.csv", 1394)):
        fewest, most = labelled(name, frames)
        assert (fewest <= most).all() and most.max() >= 1


@pytest.mark.slow
def test_vehicle_count_offline_counts_cars_not_blobs(road: vql.Connection) -> None:
    """Without YOLO weights (the tests' model path has none) vehicle_count counts moving
    objects; one car is one vehicle however its windows and shadow split the foreground."""
    rows = road.execute("SELECT vehicle_count, congested FROM intersection "
                        "ORDER BY frame_id").fetchall()
    counts = np.array([r[0] for r in rows])
    congested = np.array([r[1] for r in rows])
    fewest, most = labelled("road_vehicles.csv", len(rows))
    right = float(np.mean((counts >= fewest) & (counts <= most)))
    print(f"vehicle_count right on {right:.1%} of frames; max {counts.max()}")
    assert right >= 0.9
    assert counts.max() == most.max() == 2
    score = f1_where_sure(congested, fewest >= 2, most < 2)
    print(f"congested F1 {score:.3f}")
    assert score >= 0.9


@pytest.mark.slow
def test_person_detection_against_labels(room: vql.Connection) -> None:
    rows = room.execute("SELECT has_object(frame, 'person'), count_objects(frame, 'person') "
                        "FROM room ORDER BY frame_id").fetchall()
    present = np.array([r[0] for r in rows])
    counted = np.array([r[1] for r in rows])
    fewest, most = labelled("room_people.csv", len(rows))
    present_score = f1_where_sure(present, fewest >= 1, most == 0)
    counted_score = f1_where_sure(counted >= 1, fewest >= 1, most == 0)
    exact = float(np.mean((counted >= fewest) & (counted <= most)))
    print(f"has_object F1 {present_score:.3f}, count_objects >= 1 F1 {counted_score:.3f}, "
          f"count right on {exact:.1%} of frames")
    assert present_score >= 0.95 and counted_score >= 0.95
    assert exact >= 0.9
