"""Identity F1 (IDF1) of tracks: how much of the time each object of the reference keeps one
identity in a result, the metric of the multi-object-tracking benchmarks (Ristani et al. 2016).

Computed by ``trackers.eval.compute_identity_metrics`` (Roboflow's trackers, Apache-2.0,
adapted from TrackEval): the one-to-one assignment of reference ids to result ids that pairs
the most observations, each pair of observations matched when their similarity is >= 0.5. A
track split in two keeps the longer half, so a split, a merge, a late start and a missed
object each lower the score in proportion to the time they cover.

Two kinds of result are scored so:

* per frame, a list of tracked boxes (``track``'s value): the observations are each frame's
  boxes, matched by IoU (same label);
* one row per track (``tracks(...)``): the observations are the reference's times, each
  result track placed there by its ``path`` (interpolated between its points, within
  ``NEAR_PX`` pixels of the reference's point) or, without a path, present from ``first_ts``
  to ``last_ts`` (a grid of ``GRID_S`` seconds).
"""

from __future__ import annotations

import math
import typing as t
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import pyarrow as pa

from vql.accuracy.boxes import iou

NEAR_PX = 50.0   # a result's point within this distance of the reference's matches it
GRID_S = 0.1     # the times at which tracks known only by their spans are compared

# One observation: (frame key, object id, what its similarity to another is computed from).
Observation = tuple[Hashable, Hashable, t.Any]


def identity_f1(reference: Sequence[Observation], result: Sequence[Observation],
                similarity: Callable[[t.Any, t.Any], float]) -> float:
    """IDF1 of ``result``'s observations against ``reference``'s, frame by frame; 1.0 when
    both are empty."""
    if not reference and not result:
        return 1.0
    from trackers.eval import compute_identity_metrics

    frames: dict[Hashable, tuple[list[Observation], list[Observation]]] = defaultdict(
        lambda: ([], []))
    for observation in reference:
        frames[observation[0]][0].append(observation)
    for observation in result:
        frames[observation[0]][1].append(observation)
    ids: dict[Hashable, int] = {}
    gt_ids, tracker_ids, scores = [], [], []
    for ref, got in frames.values():
        gt_ids.append(np.array([ids.setdefault(("ref", o[1]), len(ids)) for o in ref], int))
        tracker_ids.append(np.array([ids.setdefault(("got", o[1]), len(ids)) for o in got], int))
        scores.append(np.array([[similarity(r[2], g[2]) for g in got] for r in ref],
                               float).reshape(len(ref), len(got)))
    return float(compute_identity_metrics(gt_ids, tracker_ids, scores)["IDF1"])


def _box_similarity(a: dict[str, t.Any], b: dict[str, t.Any]) -> float:
    return iou(a, b) if a.get("label") == b.get("label") else 0.0


def boxes_identity(reference: Sequence[Sequence[dict[str, t.Any]] | None],
                   result: Sequence[Sequence[dict[str, t.Any]] | None]) -> float:
    """IDF1 of per-frame lists of tracked boxes (the rows line up frame by frame)."""
    def observations(frames: Sequence[Sequence[dict[str, t.Any]] | None]) -> list[Observation]:
        return [(index, box["track_id"], box) for index, boxes in enumerate(frames)
                for box in boxes or ()]
    return identity_f1(observations(reference), observations(result), _box_similarity)


def is_tracked_boxes(arrow_type: pa.DataType) -> bool:
    """A list of boxes with a ``track_id``: ``track``'s value."""
    return pa.types.is_list(arrow_type) and pa.types.is_struct(arrow_type.value_type) and all(
        arrow_type.value_type.get_field_index(k) >= 0
        for k in ("track_id", "x1", "y1", "x2", "y2"))


def lists_tracks(names: Sequence[str]) -> bool:
    """Whether a result with these columns lists tracks: a ``track_id`` with a ``path`` or
    with ``first_ts`` and ``last_ts``."""
    have = set(names)
    return "track_id" in have and ("path" in have or {"first_ts", "last_ts"} <= have)


def tracks_identity(reference: pa.Table, result: pa.Table) -> float:
    """IDF1 of two lists of tracks (one row each), compared at the reference's times."""
    ref_rows, got_rows = reference.to_pylist(), result.to_pylist()
    if "path" in reference.schema.names:
        ref = [((_video(r), p["ts"]), _key(r), (p["x"], p["y"]))
               for r in ref_rows for p in _points(r)]
        times = sorted({o[0] for o in ref})
        got = [obs for r in got_rows for obs in _placed(r, times)]
        return identity_f1(ref, got, _near)
    return identity_f1(_spans(ref_rows), _spans(got_rows), lambda a, b: 1.0)


def _video(row: dict[str, t.Any]) -> t.Any:
    return row.get("video_id")


def _key(row: dict[str, t.Any]) -> Hashable:
    return (_video(row), row["track_id"])


def _points(row: dict[str, t.Any]) -> list[dict[str, float]]:
    return [p for p in row.get("path") or () if p is not None and None not in p.values()]


def _placed(row: dict[str, t.Any], times: list[tuple[t.Any, float]]) -> list[Observation]:
    """The track of ``row`` at each of ``times`` (of its video) within its path's span,
    interpolated linearly between its points."""
    points = sorted(_points(row), key=lambda p: p["ts"])
    if not points:
        return []
    stamps = [p["ts"] for p in points]
    xs, ys = [p["x"] for p in points], [p["y"] for p in points]
    video = _video(row)
    return [((video, at), _key(row), (float(np.interp(at, stamps, xs)),
                                       float(np.interp(at, stamps, ys))))
            for v, at in times if v == video and stamps[0] <= at <= stamps[-1]]


def _near(a: tuple[float, float], b: tuple[float, float]) -> float:
    """1 at the same point, 0.5 at ``NEAR_PX`` pixels apart, 0 from twice that."""
    return max(0.0, 1.0 - math.dist(a, b) / (2 * NEAR_PX))


def _spans(rows: list[dict[str, t.Any]]) -> list[Observation]:
    """Each track present at the ``GRID_S`` ticks from its first to its last time."""
    found: list[Observation] = []
    for row in rows:
        first, last = row.get("first_ts"), row.get("last_ts")
        if first is None or last is None:
            continue
        tick = math.ceil(first / GRID_S - 1e-9)
        while tick * GRID_S <= last + 1e-9:
            found.append(((_video(row), tick), _key(row), None))
            tick += 1
    return found
