"""Per-statement execution state: parameters, statistics, cancellation, the first failure."""

from __future__ import annotations

import threading
import typing as t
from collections import Counter
from dataclasses import dataclass, field

import duckdb

from vql.exec.progress import ProgressReporter
from vql.settings import Settings


@dataclass
class OperatorStats:
    """One physical operator's measurements (EXPLAIN ANALYZE)."""

    name: str
    seconds: float = 0.0   # inside its batches, its inputs included
    rows_out: int = 0


@dataclass
class QueryStats:
    """What a statement did; ``cursor.stats`` after execution."""

    frames_scanned: int = 0      # frame rows read from the catalog
    frames_decoded: int = 0      # frames whose pixels were decoded
    frames_reused: int = 0       # frames whose function values came from the result cache
    udf_frames: Counter[str] = field(default_factory=Counter)  # frames per function
    rows_filtered_out: int = 0   # rows dropped inside video pipelines
    rows_filled: int = 0         # rows a lossy plan filled from the nearest processed frame
    operators: dict[int, OperatorStats] = field(default_factory=dict)  # by operator index
    processed_pairs: int = 0     # consecutive processed frames of a lossy plan (per video)
    processed_changes: int = 0   # ... whose function values differ

    def __str__(self) -> str:
        """One line: what was read, decoded, reused and computed (``print(cursor.stats)``)."""
        parts = [f"{self.frames_scanned} frames scanned", f"{self.frames_decoded} decoded"]
        if self.frames_reused:
            parts.append(f"{self.frames_reused} from the result cache")
        parts += [f"{name} on {count}" for name, count in sorted(self.udf_frames.items())]
        if self.rows_filtered_out:
            parts.append(f"{self.rows_filtered_out} rows filtered in the pipeline")
        if self.rows_filled:
            parts.append(f"{self.rows_filled} rows filled from sampled frames")
        return ", ".join(parts)

    def change_rate(self) -> float | None:
        """How often consecutive processed frames of a lossy plan differed; None without pairs."""
        return self.processed_changes / self.processed_pairs if self.processed_pairs else None

    def as_dict(self) -> dict[str, t.Any]:
        """The frame and row counters as a plain dict (``udf_frames`` by function name)."""
        return {"frames_scanned": self.frames_scanned, "frames_decoded": self.frames_decoded,
                "frames_reused": self.frames_reused,
                "udf_frames": dict(self.udf_frames), "rows_filtered_out": self.rows_filtered_out,
                "rows_filled": self.rows_filled}


class ExecContext:
    """A statement's execution state: settings, statistics, progress, threads, first failure."""

    def __init__(self, settings: Settings, progress: ProgressReporter | None = None):
        self.settings = settings
        self.progress = progress  # told of every batch of frames the scans read
        self.stopping = threading.Event()  # set when the statement ends: threads stop waiting
        self.threads: list[threading.Thread] = []  # the statement's threads, waited for at close
        self.stats = QueryStats()
        self.failure: BaseException | None = None
        # Frames that could not be decoded (a file damaged there), by decoding operator and
        # path: skipped by that operator's pipeline, reported (operators.damaged_below)
        self.damaged: dict[int, dict[str, set[int]]] = {}
        self._filter_cons: dict[int, duckdb.DuckDBPyConnection] = {}

    @property
    def filter_con(self) -> duckdb.DuckDBPyConnection:
        """A private in-memory DuckDB for pipeline predicates, one per thread (a prefetching
        operator runs the filters below it in its own thread): the user's connection is busy
        running the statement that pulls from the pipeline, so predicates cannot use it."""
        thread = threading.get_ident()
        if thread not in self._filter_cons:
            self._filter_cons[thread] = duckdb.connect(":memory:")
        return self._filter_cons[thread]

    def close(self) -> None:
        """End the statement: tell its threads to stop, wait for them, close the filter DuckDBs."""
        self.stopping.set()
        threads, self.threads = self.threads, []
        for thread in threads:  # each stops within a poll, or after the batch it is decoding
            thread.join(5.0)
        cons, self._filter_cons = list(self._filter_cons.values()), {}
        for con in cons:
            con.close()
