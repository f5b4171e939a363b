"""Joining concurrent callers' inputs into one model call (vql/models/coalesce.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vql.models.coalesce import Coalescer


def test_concurrent_callers_share_calls_and_get_their_own_rows() -> None:
    sizes: list[int] = []

    def model(rows: np.ndarray) -> np.ndarray:
        sizes.append(len(rows))
        time.sleep(0.05)  # a model's call: others arrive meanwhile
        return rows * 2

    joined = Coalescer(model)
    inputs = [np.full((k + 1, 3), k, dtype=np.int64) for k in range(6)]
    outputs: list[np.ndarray | None] = [None] * 6

    def call(k: int) -> None:
        outputs[k] = joined(inputs[k])

    threads = [threading.Thread(target=call, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for k in range(6):
        assert np.array_equal(outputs[k], inputs[k] * 2)
    assert sum(sizes) == sum(len(x) for x in inputs)  # every row computed once
    assert joined.calls < 6 and joined.joined >= 1  # some calls served several callers


def test_a_lone_caller_runs_at_once_and_failures_reach_every_caller() -> None:
    joined = Coalescer(lambda rows: rows + 1)
    assert np.array_equal(joined(np.zeros((2, 2))), np.ones((2, 2)))
    assert joined.calls == 1

    def broken(rows: np.ndarray) -> np.ndarray:
        raise ValueError("the model failed")

    failing = Coalescer(broken)
    with pytest.raises(ValueError, match="the model failed"):
        failing(np.zeros((1, 2)))
    with pytest.raises(ValueError):  # the next caller is not left waiting
        failing(np.zeros((1, 2)))


def test_inputs_of_other_shapes_are_called_apart() -> None:
    shapes: list[tuple[int, ...]] = []

    def model(rows: np.ndarray) -> np.ndarray:
        shapes.append(rows.shape)
        time.sleep(0.05)
        return rows.sum(axis=tuple(range(1, rows.ndim)))

    joined = Coalescer(model)
    results: dict[str, np.ndarray] = {}
    threads = [threading.Thread(target=lambda n=n, x=x: results.__setitem__(n, joined(x)))
               for n, x in (("a", np.ones((2, 3))), ("b", np.ones((2, 4))),
                            ("c", np.ones((1, 3))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert list(results["a"]) == [3, 3] and list(results["b"]) == [4, 4]
    assert list(results["c"]) == [3]
