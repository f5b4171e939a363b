"""One model call for the frames of several callers: the pipelines of several cameras (or
queries) that call one loaded model at once have their inputs joined into one batch.

Without it, N pipelines call the model at the same time, each with its own few frames, and on
a CPU each call's threads compete with the others' for the same cores (what N ultralytics
``model.track`` loops do). With it, a caller that finds the model busy leaves its input and
waits; the caller running the model takes every input left meanwhile into its next call,
splits the output back by rows, and stops when none is left (no thread of its own, no timer:
a lone caller runs at once, as before). Inputs join when their shapes after the first axis
agree (a model's fixed input size); the function must map rows to rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_ROWS = 256  # rows of one joined call at most


@dataclass
class _Request:
    rows: np.ndarray
    done: threading.Event = field(default_factory=threading.Event)
    output: np.ndarray | None = None
    error: BaseException | None = None


class Coalescer:
    """Calls ``function`` (N x ... -> N x ...) on the joined inputs of concurrent callers."""

    def __init__(self, function: Callable[[np.ndarray], np.ndarray], max_rows: int = MAX_ROWS):
        self.function = function
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._busy = False
        self.calls = 0   # calls of ``function``
        self.joined = 0  # ... that served more than one caller

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """``function(rows)``, computed in one call with other callers' rows if they come
        while the model is busy."""
        request = _Request(rows)
        with self._lock:
            self._pending.append(request)
            leader = not self._busy
            self._busy = True
        if leader:
            self._serve()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.output is not None
        return request.output

    def _serve(self) -> None:
        """Run the model over what is pending until nothing is."""
        while True:
            with self._lock:
                batch = self._take()
                if not batch:
                    self._busy = False
                    return
            self._run(batch)

    def _take(self) -> list[_Request]:
        """The pending requests of one call (under the lock): the first one's shape, up to
        ``max_rows`` rows (the first one whatever its size)."""
        if not self._pending:
            return []
        shape = self._pending[0].rows.shape[1:]
        batch: list[_Request] = []
        rest: list[_Request] = []
        rows = 0
        for request in self._pending:
            fits = request.rows.shape[1:] == shape and (not batch or
                                                        rows + len(request.rows) <= self.max_rows)
            (batch if fits else rest).append(request)
            rows += len(request.rows) if fits else 0
        self._pending = rest
        return batch

    def _run(self, batch: list[_Request]) -> None:
        try:
            joined = batch[0].rows if len(batch) == 1 else np.concatenate(
                [r.rows for r in batch])
            output = self.function(joined)
            self.calls += 1
            self.joined += len(batch) > 1
            start = 0
            for request in batch:
                request.output = output[start:start + len(request.rows)]
                start += len(request.rows)
        except BaseException as error:  # each caller raises it (Ctrl-C too)
            for request in batch:
                request.error = error
        finally:
            for request in batch:
                request.done.set()
