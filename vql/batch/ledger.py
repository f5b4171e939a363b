"""The records of batch runs in the catalog (``vql_catalog.runs`` and ``run_videos``), and
where each video's results go (one table per query, rows keyed by ``video_path``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pyarrow as pa

from vql.catalog import Catalog
from vql.errors import CatalogError

DONE, FAILED = "done", "failed"


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What identifies a run: running the same statements over the same video table into the
    same outputs again continues it."""

    query_file: str
    setup: tuple[str, ...]
    queries: tuple[str, ...]
    table: str
    outputs: tuple[str, ...]  # one result table per query

    @property
    def key(self) -> str:
        """The run's id: 16 hex digits of a SHA-256 of its statements, video table and outputs."""
        text = json.dumps([self.setup, self.queries, self.table.lower(),
                           [o.lower() for o in self.outputs]])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class Ledger:
    """A run's records in the catalog (``runs``, ``run_videos``) and its result tables."""

    def __init__(self, catalog: Catalog, spec: RunSpec):
        self.catalog = catalog
        self.spec = spec
        self.run = spec.key

    def start(self) -> bool:
        """Record the run (once); True when it continues an earlier start. A new run may not
        write into a table that holds something else."""
        known = self.catalog.run("SELECT 1 FROM vql_catalog.runs WHERE run = ?", [self.run])
        if known:
            self.catalog.run("UPDATE vql_catalog.runs SET status = 'running' WHERE run = ?",
                             [self.run])
            return True
        existing = {n.lower() for n in (*self.catalog.plain_tables(),
                                        *self.catalog.video_tables())}
        for output in self.spec.outputs:
            if output.lower() in existing:
                raise CatalogError(
                    f"the output table {output!r} exists and was not written by this run "
                    "(other statements, video table or outputs); drop it or choose another "
                    "--out")
        self.catalog.run(
            "INSERT INTO vql_catalog.runs VALUES (?, ?, ?, ?, ?, current_timestamp, NULL, "
            "'running')",
            [self.run, self.spec.query_file, ";\n".join((*self.spec.setup, *self.spec.queries)),
             self.spec.table, list(self.spec.outputs)])
        return False

    def finished(self) -> dict[str, tuple[int, float]]:
        """path -> (size, mtime) of the videos this run finished."""
        rows = self.catalog.run("SELECT path, size, mtime FROM vql_catalog.run_videos "
                                "WHERE run = ? AND status = ?", [self.run, DONE])
        return {r[0]: (int(r[1]), float(r[2])) for r in rows}

    def record(self, path: str, size: int, mtime: float, status: str, error: str | None,
               frames: int, rows: int, seconds: float, accuracy: float | None) -> None:
        """Record one video's outcome in this run (replacing an earlier one): its size and
        mtime, status, error, frames, result rows, seconds and estimated accuracy."""
        self.catalog.run("DELETE FROM vql_catalog.run_videos WHERE run = ? AND path = ?",
                         [self.run, path])
        self.catalog.run("INSERT INTO vql_catalog.run_videos VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?)",
                         [self.run, path, size, mtime, status, error, frames, rows, seconds,
                          accuracy])

    def recorded(self) -> set[str]:
        """The paths this run holds a record of (done or failed)."""
        return {r[0] for r in self.catalog.run(
            "SELECT path FROM vql_catalog.run_videos WHERE run = ?", [self.run])}

    def close(self, status: str) -> None:
        """Mark the run ended with ``status`` ("finished" or "finished with failures")."""
        self.catalog.run("UPDATE vql_catalog.runs SET status = ?, finished_at = "
                         "current_timestamp WHERE run = ?", [status, self.run])

    # --- results -----------------------------------------------------------------------------

    def store(self, output: str, path: str, result: pa.Table | None) -> int:
        """Replace ``path``'s rows in ``output`` with ``result`` (None: remove them); the rows
        get the video's path and their position in its result. Returns the rows stored."""
        exists = output.lower() in {n.lower() for n in self.catalog.plain_tables()}
        if exists:
            self.catalog.run(f"DELETE FROM {quote_name(output)} WHERE video_path = ?", [path])
        if result is None:
            return 0
        rows = result.num_rows
        keyed = result.add_column(0, "result_row", pa.array(range(rows), pa.int64()))
        keyed = keyed.add_column(0, "video_path", pa.array([path] * rows, pa.string()))
        self.catalog.con.register("__vql_run_rows", keyed)
        try:
            if exists:
                self.catalog.run(f"INSERT INTO {quote_name(output)} BY NAME "
                                 "SELECT * FROM __vql_run_rows")
            else:
                self.catalog.run(f"CREATE TABLE {quote_name(output)} AS SELECT * FROM __vql_run_rows")
        finally:
            self.catalog.con.unregister("__vql_run_rows")
        return rows


def quote_name(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


