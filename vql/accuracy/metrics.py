"""How close a result is to the reference plan's result: one documented metric per shape.

* ``selection`` (the query keeps the rows where a frame function's predicate holds): F1 of the
  selected rows, rows compared as whole tuples (a multiset).
* ``per_frame`` (one row per frame, in the same order as the reference): per column, F1 of the
  rows where a boolean column is true; detection F1 at IoU 0.5 for box lists; 1 - relative
  error (mean over rows) for numbers; exact agreement for anything else.
* ``aggregate`` (the query groups or aggregates): rows matched on their non-floating columns;
  per number column, 1 - relative error, mean over the reference's rows; an unmatched row
  scores 0, and so does each extra row.
* ``tracks`` (one row per track: a ``track_id`` with a ``path`` or ``first_ts`` and
  ``last_ts``, as ``tracks(...)`` gives): identity F1 (``identity``). A per-frame list of
  tracked boxes (``track``'s value) is scored by identity F1 too, instead of detection F1.

Only the columns that a frame function feeds are scored (``scored``: the others, ``frame_id``
or ``ts`` say, are the same in every plan, and ``computed`` says how a row was made, not what
is in the video); a result's accuracy is the **lowest** of its column scores, so that "accuracy
0.9" means every such column scores at least 0.9. ``column_scores`` gives each score.

Each metric is 1.0 for an identical result and 0.0 at worst.
"""

from __future__ import annotations

import math
import typing as t
from collections import Counter
from collections.abc import Sequence

import pyarrow as pa

from vql.accuracy.boxes import iou
from vql.accuracy.identity import boxes_identity, is_tracked_boxes, tracks_identity

SHAPES = ("selection", "per_frame", "aggregate", "tracks")
IOU_THRESHOLD = 0.5


def f1(true_positive: int, predicted: int, actual: int) -> float:
    """F1 from counts, ``2 * true_positive / (predicted + actual)``; 1.0 when both are empty."""
    if predicted == 0 and actual == 0:
        return 1.0
    if predicted == 0 or actual == 0:
        return 0.0
    return 2 * true_positive / (predicted + actual)


def selection_f1(reference: Sequence[t.Hashable], result: Sequence[t.Hashable]) -> float:
    """F1 of two multisets of rows."""
    ref, got = Counter(reference), Counter(result)
    return f1(sum((ref & got).values()), sum(got.values()), sum(ref.values()))


def relative_accuracy(reference: float | None, value: float | None) -> float:
    """1 - |value - reference| / |reference|, within [0, 1]; exact match of zeros is 1."""
    if reference is None or value is None:
        return 1.0 if reference is None and value is None else 0.0
    if reference == 0:
        return 1.0 if value == 0 else 0.0
    return max(0.0, 1.0 - abs(value - reference) / abs(reference))


def detection_matches(reference: Sequence[dict[str, t.Any]],
                      result: Sequence[dict[str, t.Any]]) -> int:
    """Greedy one-to-one matches of same-label boxes at IoU >= 0.5, highest IoU first."""
    pairs = sorted(((iou(r, g), i, j) for i, r in enumerate(reference)
                    for j, g in enumerate(result) if r.get("label") == g.get("label")),
                   reverse=True)
    used_ref: set[int] = set()
    used_got: set[int] = set()
    for overlap, i, j in pairs:
        if overlap < IOU_THRESHOLD:
            break
        if i not in used_ref and j not in used_got:
            used_ref.add(i)
            used_got.add(j)
    return len(used_ref)


def detection_f1(reference: Sequence[Sequence[dict[str, t.Any]] | None],
                 result: Sequence[Sequence[dict[str, t.Any]] | None]) -> float:
    """Detection F1 at IoU 0.5 over all frames (boxes pooled, matched within a frame)."""
    matched = predicted = actual = 0
    for ref, got in zip(reference, result):
        ref, got = ref or [], got or []
        matched += detection_matches(ref, got)
        predicted += len(got)
        actual += len(ref)
    return f1(matched, predicted, actual)


def _is_boxes(arrow_type: pa.DataType) -> bool:
    return pa.types.is_list(arrow_type) and pa.types.is_struct(arrow_type.value_type) and all(
        arrow_type.value_type.get_field_index(k) >= 0 for k in ("x1", "y1", "x2", "y2"))


def _is_number(arrow_type: pa.DataType) -> bool:
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or \
        pa.types.is_decimal(arrow_type)


def column_parts(arrow_type: pa.DataType, reference: list[t.Any], result: list[t.Any]
                 ) -> tuple[float, float]:
    """One per-frame column's score as (numerator, denominator), so that the scores of
    several spans of frames pool as the score of all their frames would: F1 as (2 x matched,
    predicted + actual), a mean as (sum, rows). A zero denominator scores 1.0 (nothing to
    find, nothing found)."""
    if pa.types.is_boolean(arrow_type):
        ref = {i for i, v in enumerate(reference) if v}
        got = {i for i, v in enumerate(result) if v}
        return 2 * len(ref & got), len(ref) + len(got)
    if _is_boxes(arrow_type) and not is_tracked_boxes(arrow_type):
        matched = predicted = actual = 0
        for r, g in zip(reference, result):
            matched += detection_matches(r or [], g or [])
            predicted += len(g or [])
            actual += len(r or [])
        return 2 * matched, predicted + actual
    return column_accuracy(arrow_type, reference, result) * len(reference), len(reference)


def ratio(parts: tuple[float, float]) -> float:
    """A pooled score from (numerator, denominator); 1.0 when there was nothing to score."""
    numerator, denominator = parts
    return numerator / denominator if denominator else 1.0


def column_accuracy(arrow_type: pa.DataType, reference: list[t.Any], result: list[t.Any]) -> float:
    """One per-frame column's score (the reference and result have the same rows)."""
    if pa.types.is_boolean(arrow_type):
        ref = [i for i, v in enumerate(reference) if v]
        got = [i for i, v in enumerate(result) if v]
        return selection_f1(ref, got)
    if is_tracked_boxes(arrow_type):
        return boxes_identity(reference, result)
    if _is_boxes(arrow_type):
        return detection_f1(reference, result)
    if _is_number(arrow_type):
        scores = [relative_accuracy(r, g) for r, g in zip(reference, result)]
        return sum(scores) / len(scores) if scores else 1.0
    same = sum(1 for r, g in zip(reference, result) if r == g)
    return same / len(reference) if reference else 1.0


def _hashable(value: t.Any) -> t.Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return t.cast(t.Hashable, value)


def rows_of(table: pa.Table) -> list[tuple[t.Hashable, ...]]:
    """The rows of ``table`` as hashable tuples (lists and structs as tuples, NaN as "nan")."""
    return [tuple(_hashable(v) for v in row.values()) for row in table.to_pylist()]


ROWS = "rows"  # the score of a selection's rows (or of rows that do not line up)
IDENTITY = "identity"  # the score of a list of tracks


def _without(table: pa.Table, names: Sequence[str]) -> pa.Table:
    return table.drop_columns([n for n in names if n in table.schema.names])


def per_frame_scores(reference: pa.Table, result: pa.Table,
                     scored: Sequence[str]) -> dict[str, float]:
    """Each ``scored`` column's per-frame score; if the row counts differ, one ``rows``
    score of the rows as a selection."""
    if reference.num_rows != result.num_rows:
        # The rows do not line up: score them as a selection.
        return {ROWS: selection_f1(rows_of(reference), rows_of(result))}
    return {name: column_accuracy(reference.schema.field(name).type,
                                  reference.column(name).to_pylist(),
                                  result.column(name).to_pylist()) if reference.num_rows else 1.0
            for name in scored}


def aggregate_scores(reference: pa.Table, result: pa.Table,
                     scored: Sequence[str]) -> dict[str, float]:
    """Each ``scored`` column's score for grouped rows, matched on their key columns; an
    unmatched reference row or an extra result row scores 0."""
    numbers = [f.name for f in reference.schema if pa.types.is_floating(f.type)
               or pa.types.is_decimal(f.type)]
    # Without floating columns (count(*), say), every column is compared as a number if it is one.
    if not numbers:
        numbers = [f.name for f in reference.schema if _is_number(f.type)]
    keys = [f.name for f in reference.schema if f.name not in numbers]
    got = {tuple(_hashable(row[k]) for k in keys): row for row in result.to_pylist()}
    rows = reference.to_pylist()
    known = {tuple(_hashable(row[k]) for k in keys) for row in rows}
    extra = sum(1 for key in got if key not in known)
    matches = [got.get(tuple(_hashable(row[k]) for k in keys)) for row in rows]
    total = len(rows) + extra
    scores: dict[str, float] = {}
    for name in scored:
        if name in numbers:
            cells = [relative_accuracy(_float(row[name]), _float(match[name]))
                     for row, match in zip(rows, matches) if match is not None]
        else:  # a group key: its groups are found or not
            cells = [1.0 for match in matches if match is not None]
        scores[name] = sum(cells) / total if total else 1.0
    return scores


def _float(value: t.Any) -> float | None:
    return None if value is None else float(value)


def column_scores(shape: str, reference: pa.Table, result: pa.Table,
                  scored: Sequence[str] | None = None) -> dict[str, float]:
    """The score of each scored column of ``result`` against ``reference`` (``scored``: the
    columns a frame function feeds; None: every column but ``computed``). A selection is
    scored as a whole (``rows``): its rows are what the functions chose."""
    if shape not in SHAPES:
        raise ValueError(f"unknown result shape {shape!r}; one of {', '.join(SHAPES)}")
    names = list(reference.schema.names) if scored is None else list(scored)
    names = [n for n in names if n != "computed"]
    if reference.schema.names != result.schema.names:
        return {name: 0.0 for name in names or [ROWS]}
    if shape == "selection":
        plan_only = ["computed"] if scored is None else [
            n for n in reference.schema.names if n == "computed" and n not in scored]
        return {ROWS: selection_f1(rows_of(_without(reference, plan_only)),
                                   rows_of(_without(result, plan_only)))}
    if shape == "tracks":
        return {IDENTITY: tracks_identity(reference, result)}
    if shape == "per_frame" and reference.num_rows != result.num_rows:
        return per_frame_scores(reference, result, names)  # the rows themselves differ
    if not names:
        return {}
    if shape == "aggregate":
        return aggregate_scores(reference, result, names)
    return per_frame_scores(reference, result, names)


def accuracy(shape: str, reference: pa.Table, result: pa.Table,
             scored: Sequence[str] | None = None) -> float:
    """The score of ``result`` against ``reference``: the lowest of its column scores (1.0
    when no column depends on a frame function)."""
    return lowest(column_scores(shape, reference, result, scored))


def lowest(scores: dict[str, float]) -> float:
    """The lowest of the column scores, a result's accuracy (1.0 when no column is scored)."""
    return min(scores.values(), default=1.0)


METRIC_NAMES = {
    "selection": "F1 of selected rows",
    "per_frame": "per-frame F1 / detection F1@0.5 / 1 - relative error, lowest column",
    "aggregate": "1 - relative error, lowest column",
    "tracks": "identity F1 (IDF1) of the tracks",
}
