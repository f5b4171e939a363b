"""The accuracy metrics, as tables of cases (no video needed)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from vql.accuracy import accuracy, column_scores
from vql.accuracy.metrics import detection_f1, relative_accuracy, selection_f1


def box(label: str, x1: float, y1: float, x2: float, y2: float) -> dict[str, object]:
    return {"label": label, "score": 0.9, "x1": x1, "y1": y1, "x2": x2, "y2": y2}


@pytest.mark.parametrize(("reference", "result", "expected"), [
    ([1, 2, 3], [1, 2, 3], 1.0),
    ([1, 2, 3, 4], [1, 2], 2 * 2 / 6),        # recall 0.5, precision 1
    ([1, 2], [1, 2, 3, 4], 2 * 2 / 6),        # precision 0.5, recall 1
    ([], [], 1.0),                            # nothing selected, correctly
    ([1], [], 0.0),
    ([(1, "a"), (1, "a")], [(1, "a")], 2 / 3),  # a multiset: duplicates count
])
def test_selection_f1(reference: list[object], result: list[object], expected: float) -> None:
    assert selection_f1(reference, result) == pytest.approx(expected)


@pytest.mark.parametrize(("reference", "value", "expected"), [
    (10.0, 10.0, 1.0), (10.0, 9.0, 0.9), (10.0, 12.0, 0.8), (10.0, 40.0, 0.0),
    (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (None, None, 1.0), (1.0, None, 0.0), (-4.0, -3.0, 0.75),
])
def test_relative_accuracy(reference: float | None, value: float | None, expected: float) -> None:
    assert relative_accuracy(reference, value) == pytest.approx(expected)


@pytest.mark.parametrize(("reference", "result", "expected"), [
    ([[box("person", 0, 0, 10, 10)]], [[box("person", 0, 0, 10, 10)]], 1.0),
    ([[box("person", 0, 0, 10, 10)]], [[box("person", 1, 1, 11, 11)]], 1.0),  # IoU 0.68
    ([[box("person", 0, 0, 10, 10)]], [[box("person", 5, 5, 15, 15)]], 0.0),  # IoU 0.14
    ([[box("person", 0, 0, 10, 10)]], [[box("dog", 0, 0, 10, 10)]], 0.0),     # wrong label
    ([[box("person", 0, 0, 10, 10), box("person", 20, 20, 30, 30)]],
     [[box("person", 0, 0, 10, 10)]], 2 / 3),
    ([[], [box("car", 0, 0, 4, 4)]], [[box("car", 0, 0, 4, 4)], [box("car", 0, 0, 4, 4)]],
     2 / 3),                                    # matched within a frame only
    ([[]], [None], 1.0),
])
def test_detection_f1(reference: list[list[dict[str, object]]],
                      result: list[list[dict[str, object]] | None], expected: float) -> None:
    assert detection_f1(reference, result) == pytest.approx(expected)


def test_accuracy_by_result_shape() -> None:
    reference = pa.table({"frame_id": [0, 1, 2, 3], "busy": [True, True, False, False],
                          "cars": [2, 2, 0, 0]})
    result = pa.table({"frame_id": [0, 1, 2, 3], "busy": [True, False, False, False],
                       "cars": [2, 1, 0, 0]})
    # per frame: frame_id exact (1), busy F1 2/3, cars mean(1, .5, 1, 1) = .875: the lowest
    assert column_scores("per_frame", reference, result) == pytest.approx(
        {"frame_id": 1.0, "busy": 2 / 3, "cars": 0.875})
    assert accuracy("per_frame", reference, result) == pytest.approx(2 / 3)
    assert accuracy("per_frame", reference, result, ["cars"]) == pytest.approx(0.875)
    assert accuracy("per_frame", reference, result, []) == 1.0  # nothing a function feeds
    # selection: rows as tuples; 3 of 4 equal
    assert accuracy("selection", reference, result) == pytest.approx(0.75)
    assert accuracy("aggregate", pa.table({"avg": [2.0]}), pa.table({"avg": [1.5]})) == 0.75
    grouped = pa.table({"label": ["a", "b"], "n": [4.0, 10.0]})
    assert accuracy("aggregate", grouped, pa.table({"label": ["a", "c"], "n": [3.0, 10.0]})) \
        == pytest.approx((0.75 + 0.0 + 0.0) / 3)  # b is missing and c is extra
    two = pa.table({"n": [10.0], "mean": [4.0]})
    assert column_scores("aggregate", two, pa.table({"n": [10.0], "mean": [2.0]})) == \
        {"n": 1.0, "mean": 0.5}
    assert accuracy("per_frame", reference, reference.rename_columns(["a", "b", "c"])) == 0.0
    with pytest.raises(ValueError, match="unknown result shape"):
        accuracy("histogram", reference, reference)


def test_computed_is_never_scored() -> None:
    """``computed`` says how a row was made: a lossy plan changes it by design."""
    reference = pa.table({"frame_id": [0, 1], "busy": [True, False], "computed": [True, True]})
    result = pa.table({"frame_id": [0, 1], "busy": [True, False], "computed": [True, False]})
    assert accuracy("per_frame", reference, result) == 1.0
    assert accuracy("selection", reference, result) == 1.0


def test_rows_that_do_not_line_up_are_scored_even_without_scored_columns() -> None:
    reference = pa.table({"name": ["a", "b", "c"]})
    result = pa.table({"name": ["a"]})
    assert column_scores("per_frame", reference, result, []) == {"rows": pytest.approx(0.5)}
