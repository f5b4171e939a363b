"""The result cache: values of deterministic, stateless frame functions, kept in the catalog.

A later query that needs the same function on the same frames reads them instead of decoding
and computing (EvaDB's function cache). Values are keyed by

* the video's *content* (its SHA-256, not its path: a copy hits, a changed file misses),
* the frame number,
* the function, its constant arguments and its version (VQL's version for built-ins, the
  file's hash for user functions: editing the file starts a new cache),
* the decode resolution the values were computed at (a knob of lossy plans).

Layout: ``vql_catalog.result_caches`` names one table per function key
(``vql_catalog.results_<n>``: content, scale, frame_id, value) and
``vql_catalog.result_entries`` holds one row per (cache, video content, scale) with its size
and when it was last used; eviction drops the least recently used entries until the cache
fits ``VQL_CACHE_MB`` (entries of videos no table holds any more, never used again, go first).

Values are staged in memory while a query streams and written by ``flush`` once the query's
result is finished. The cache reads and writes through its own connection, each write a
transaction of its own (``apart.py``): two connections caching the same frames do not abort
each other's statements, and a cached value survives the user's ROLLBACK.
"""

from __future__ import annotations

import typing as t
import warnings
from dataclasses import dataclass, field
from functools import partial

import duckdb
import numpy as np
import pyarrow as pa
from vql.catalog.apart import commit_apart


@dataclass(frozen=True, slots=True)
class Cached:
    """One function's cached values for one video at one scale, sorted by frame."""

    frame_ids: np.ndarray
    values: pa.Array

    def lookup(self, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hit mask, index into ``values`` for each hit) of ``frame_ids``."""
        if len(self.frame_ids) == 0:
            return np.zeros(len(frame_ids), dtype=bool), np.empty(0, dtype=np.int64)
        at = np.searchsorted(self.frame_ids, frame_ids).clip(0, len(self.frame_ids) - 1)
        hit = self.frame_ids[at] == frame_ids
        return hit, at[hit]


@dataclass
class _Staged:
    key: str
    function: str
    value_type: pa.DataType
    content: str
    scale: float
    frame_ids: list[np.ndarray] = field(default_factory=list)
    values: list[pa.Array] = field(default_factory=list)


class ResultCache:
    """Reads and writes cached function values through the catalog's DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, max_bytes: int):
        self.con = con
        self.max_bytes = max_bytes
        self._staged: dict[tuple[str, str, float], _Staged] = {}

    @property
    def enabled(self) -> bool:
        """Whether values are cached at all (a size limit above 0; 0 when read-only)."""
        return self.max_bytes > 0

    def _run(self, sql: str, params: t.Sequence[t.Any] = ()) -> list[tuple[t.Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def _table(self, key: str) -> str | None:
        rows = self._run("SELECT name FROM vql_catalog.result_caches WHERE key = ?", [key])
        return f"vql_catalog.{rows[0][0]}" if rows else None

    # --- reading -------------------------------------------------------------------------------

    def count(self, key: str, contents: t.Sequence[str], scale: float) -> int:
        """How many frames of these videos have a value cached under ``key`` at ``scale``."""
        table = self._table(key)
        if table is None or not contents or not self.enabled:
            return 0
        rows = self._run(f"SELECT count(*) FROM {table} WHERE content IN (SELECT unnest(?)) "
                         "AND scale = ?", [list(contents), scale])
        return int(rows[0][0])

    def load(self, key: str, contents: t.Sequence[str], scale: float) -> dict[str, Cached]:
        """Everything cached under ``key`` for these videos at ``scale``, by content."""
        table = self._table(key)
        if table is None or not contents:
            return {}
        self.con.execute(f"""SELECT content, frame_id, value FROM {table}
                             WHERE content IN (SELECT unnest(?)) AND scale = ?
                             ORDER BY content, frame_id""", [list(contents), scale])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DuckDB notes the copy into Arrow
            reader = self.con.to_arrow_reader(1 << 16)
        if reader is None:
            return {}
        found = reader.read_all()
        out: dict[str, Cached] = {}
        content = found.column("content").to_numpy(zero_copy_only=False)
        frame_ids = found.column("frame_id").to_numpy()
        values = found.column("value").combine_chunks()
        starts = np.flatnonzero(np.r_[True, content[1:] != content[:-1]]) if len(content) \
            else np.empty(0, dtype=np.int64)
        for start, stop in zip(starts, [*starts[1:], len(content)]):
            out[str(content[start])] = Cached(frame_ids[start:stop],
                                              values.slice(start, stop - start))
        if out:
            commit_apart(self.con, lambda: self._run("""UPDATE vql_catalog.result_entries SET used_at = current_timestamp
                         WHERE name = ? AND scale = ? AND content IN (SELECT unnest(?))""",
                      [table.split(".")[1], scale, list(out)]))
        return out

    # --- writing -------------------------------------------------------------------------------

    def stage(self, key: str, function: str, value_type: pa.DataType, content: str,
              scale: float, frame_ids: np.ndarray, values: pa.Array) -> None:
        """Remember values computed by a running query; ``flush`` writes them."""
        staged = self._staged.setdefault((key, content, scale), _Staged(
            key, function, value_type, content, scale))
        staged.frame_ids.append(np.asarray(frame_ids, dtype=np.int32))
        staged.values.append(values)

    def staged(self, key: str, content: str, scale: float) -> Cached | None:
        """The values a running query has computed under ``key`` for one video so far (not
        yet written), or None."""
        entry = self._staged.get((key, content, scale))
        if entry is None or not entry.frame_ids:
            return None
        frame_ids, first = np.unique(np.concatenate(list(entry.frame_ids)), return_index=True)
        return Cached(frame_ids, pa.concat_arrays(list(entry.values)).take(pa.array(first)))

    def flush(self) -> None:
        """Write staged values (none twice), then evict down to the size limit. A write that
        keeps conflicting with another connection's is dropped (a later query computes the
        values again)."""
        staged, self._staged = self._staged, {}
        for entry in staged.values():
            commit_apart(self.con, partial(self._write, entry))
        if staged:
            commit_apart(self.con, self.evict)

    def _write(self, entry: _Staged) -> None:
        frame_ids = np.concatenate(entry.frame_ids)
        values = pa.concat_arrays(entry.values)
        frame_ids, first = np.unique(frame_ids, return_index=True)
        values = values.take(pa.array(first))
        table = self._table(entry.key) or self._create(entry)
        name = table.split(".")[1]
        staged = pa.table({"content": pa.array([entry.content] * len(frame_ids), pa.string()),
                           "scale": pa.array(np.full(len(frame_ids), entry.scale)),
                           "frame_id": pa.array(frame_ids, pa.int32()), "value": values})
        self.con.register("__vql_results", staged)
        try:
            # Another query may have cached some of these frames since this one looked.
            self._run(f"""INSERT INTO {table} SELECT s.* FROM __vql_results s
                          WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.content = s.content
                                            AND r.scale = s.scale AND r.frame_id = s.frame_id)""")
        finally:
            self.con.unregister("__vql_results")
        frames, size = self._run(
            f"""SELECT count(*), coalesce(sum(strlen(value::VARCHAR)), 0) + 16 * count(*)
                FROM {table} WHERE content = ? AND scale = ?""", [entry.content, entry.scale])[0]
        self._run("DELETE FROM vql_catalog.result_entries WHERE name = ? AND content = ? "
                  "AND scale = ?", [name, entry.content, entry.scale])
        self._run("INSERT INTO vql_catalog.result_entries VALUES (?, ?, ?, ?, ?, "
                  "current_timestamp)", [name, entry.content, entry.scale, frames, size])

    def _create(self, entry: _Staged) -> str:
        number = self._run("SELECT count(*) FROM vql_catalog.result_caches")[0][0]
        while self._run("SELECT 1 FROM information_schema.tables WHERE table_schema = "
                        "'vql_catalog' AND table_name = ?", [f"results_{number}"]):
            number += 1
        name = f"results_{number}"
        shape = pa.table({"content": pa.array([], pa.string()), "scale": pa.array([], pa.float64()),
                          "frame_id": pa.array([], pa.int32()),
                          "value": pa.array([], entry.value_type)})
        self.con.register("__vql_shape", shape)
        try:
            self._run(f"CREATE TABLE vql_catalog.{name} AS SELECT * FROM __vql_shape")
        finally:
            self.con.unregister("__vql_shape")
        self._run("INSERT INTO vql_catalog.result_caches VALUES (?, ?, ?, ?, current_timestamp)",
                  [name, entry.function, entry.key, str(entry.value_type)])
        return f"vql_catalog.{name}"

    # --- eviction and clearing -------------------------------------------------------------------

    def evict(self) -> int:
        """Drop the least recently used entries until the cache fits its limit. Returns how
        many entries were dropped. Entries of videos no table holds any more are not dropped
        as such: this connection does not see tables the user's open transaction loaded, so
        it cannot tell; unused, they are the first to go."""
        rows = self._run("""SELECT name, content, scale, bytes FROM vql_catalog.result_entries
                            ORDER BY used_at DESC, bytes""")
        total = 0
        dropped = []
        for name, content, scale, size in rows:
            total += size
            if total > self.max_bytes:
                dropped.append((name, content, scale))
        for name, content, scale in dropped:
            self._run(f"DELETE FROM vql_catalog.{name} WHERE content = ? AND scale = ?",
                      [content, scale])
            self._run("DELETE FROM vql_catalog.result_entries WHERE name = ? AND content = ? "
                      "AND scale = ?", [name, content, scale])
        return len(dropped)

    def forget(self, contents: t.Collection[str]) -> None:
        """Drop the cached values of videos no table holds any more (a dropped table, a file
        that changed and was loaded again), committed apart; kept when that fails."""
        if not contents or not self.enabled:
            return

        def drop() -> None:
            names = self._run("SELECT DISTINCT name FROM vql_catalog.result_entries "
                              "WHERE content IN (SELECT unnest(?))", [list(contents)])
            for (name,) in names:
                self._run(f"DELETE FROM vql_catalog.{name} WHERE content IN (SELECT unnest(?))",
                          [list(contents)])
            self._run("DELETE FROM vql_catalog.result_entries WHERE content IN "
                      "(SELECT unnest(?))", [list(contents)])

        commit_apart(self.con, drop)

    def clear(self, function: str | None = None) -> tuple[int, int]:
        """Drop every cache (or one function's), committed at once. Returns (caches, frames)
        dropped."""
        dropped = commit_apart(self.con, lambda: self._clear(function), raise_error=True)[1]
        self._staged.clear()
        return dropped or (0, 0)

    def _clear(self, function: str | None) -> tuple[int, int]:
        caches = self._run("SELECT name FROM vql_catalog.result_caches WHERE ? IS NULL OR "
                           "lower(function) = lower(?)", [function, function])
        frames = 0
        for (name,) in caches:
            frames += self._run(f"SELECT count(*) FROM vql_catalog.{name}")[0][0]
            self._run(f"DROP TABLE vql_catalog.{name}")
            self._run("DELETE FROM vql_catalog.result_caches WHERE name = ?", [name])
            self._run("DELETE FROM vql_catalog.result_entries WHERE name = ?", [name])
        return len(caches), frames
