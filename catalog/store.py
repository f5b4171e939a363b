"""Access to the catalog tables (see ``schema.py``) over the connection's DuckDB database."""

from __future__ import annotations

import dataclasses
import json
import typing as t
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
from vql.catalog.apart import commit_apart
from vql.catalog.schema import DDL, SCHEMA_VERSION

from vql.errors import CatalogError, ConcurrentChangeError
from vql.video.live import StreamEvent, StreamInfo
from vql.video.probe import VideoProbe


@dataclass(frozen=True, slots=True)
class VideoRow:
    """A video of a video table, as the catalog knows it."""

    video_id: int
    path: str
    size: int
    mtime: float
    fps: float
    frames: int
    width: int
    height: int
    duration: float
    keyframes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """One measured cost: ``ms_per_frame`` of ``operator`` in one configuration."""

    table: str
    operator: str          # "decode" or a function name
    variant: str           # decode: "sequential" or "seek"; a function: its constants
    device: str
    batch_size: int
    ms_per_frame: float
    frames: int            # how many frames the measurement covered
    sample: str            # which frames, in words
    resolution: str = "native"
    measured_at: t.Any = None


@dataclass(frozen=True, slots=True)
class AccuracyProfile:
    """The measured accuracy of one knob value for one pipeline, against the reference."""

    table: str
    pipeline: str          # the pipeline's functions, predicates and SQL, as text
    knob: str              # "reference", "fps", "scale", "diff", or "combined" (several knobs)
    value: float           # the knob's value (0 for the reference and combinations)
    accuracy: float
    metric: str            # the result shape scored: selection, per_frame or aggregate
    seconds: float         # time the measurement's run took on the clips
    frames: int            # frames in the clips
    sample: str            # which clips, in words
    content: str           # the table's videos when measured (see Catalog.content)
    change_rate: float | None = None  # fps knob: share of consecutive processed frames differing
    pass_rate: float | None = None    # diff knob: share of decoded frames the cascade let through
    measured_at: t.Any = None
    config: str = ""       # the whole configuration measured (Config.key())
    scores: tuple[tuple[str, float], ...] = ()  # per scored column; ``accuracy`` is the lowest

    def score_of(self, column: str) -> float:
        """This measurement's score of one column (its accuracy when it has no such column)."""
        return dict(self.scores).get(column, self.accuracy)


@dataclass(frozen=True, slots=True)
class StoredFunction:
    """A user function as the catalog keeps it: a file's path and hash (``body``), or a
    macro's parameters and expression."""

    name: str
    kind: str  # "file" (CREATE FUNCTION ... FROM) or "expression" (CREATE FUNCTION ... AS)
    params: tuple[str, ...]
    body: str
    source: str


class Catalog:
    """Reads and writes the ``vql`` schema. Every call runs to completion (no open results)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._has_views = False  # whether vql_catalog.views exists (see views)

    def run(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[tuple[t.Any, ...]]:
        """Run ``sql`` with ``params``; all its rows."""
        return self.con.execute(sql, params or []).fetchall()

    def apart(self, work: t.Callable[[], object], raise_error: bool = False) -> bool:
        """Run ``work``'s writes as a transaction of their own (``apart.py``); False when they
        were given up (a lasting conflict, a read-only database), or the error raised with
        ``raise_error``."""
        return commit_apart(self.con, work, raise_error=raise_error)[0]

    def ensure_schema(self) -> None:
        """Create or upgrade the catalog schema (``schema.DDL``) and record its version."""
        for statement in DDL:
            self.run(statement)
        self.run("""INSERT INTO vql_catalog.meta SELECT 'names_version', '0' WHERE NOT EXISTS
                    (SELECT 1 FROM vql_catalog.meta WHERE key = 'names_version')""")
        found = self.run("SELECT value FROM vql_catalog.meta WHERE key = 'schema_version'")
        if found != [(str(SCHEMA_VERSION),)]:  # new, or upgraded by the DDL above
            self.run("DELETE FROM vql_catalog.meta WHERE key = 'schema_version'")
            self.run("INSERT INTO vql_catalog.meta VALUES ('schema_version', ?)",
                     [str(SCHEMA_VERSION)])

    # --- tables ------------------------------------------------------------------------------

    def video_tables(self) -> list[str]:
        """The names of the video tables, sorted."""
        return [r[0] for r in self.run("SELECT name FROM vql_catalog.video_tables ORDER BY name")]

    def is_video_table(self, name: str) -> bool:
        """Whether ``name`` (any case) is a video table."""
        return bool(self.run("SELECT 1 FROM vql_catalog.video_tables WHERE lower(name) = lower(?)",
                             [name]))

    def plain_tables(self) -> list[str]:
        """The tables and views of the database's ``main`` schema, sorted."""
        rows = self.run("""SELECT table_name FROM information_schema.tables
                           WHERE table_schema = 'main' AND table_catalog = current_database()
                           ORDER BY table_name""")
        return [r[0] for r in rows]

    def relation_names(self) -> list[str]:
        """Every table and view DuckDB knows, in any schema (video tables excluded)."""
        return [r[0] for r in self.run("SELECT DISTINCT table_name FROM information_schema.tables")]

    def plain_columns(self, name: str) -> list[tuple[str, str]] | None:
        """(name, DuckDB type) of each column of a ``main`` table or view; None if none."""
        rows = self.run("""SELECT column_name, data_type FROM information_schema.columns
                           WHERE lower(table_name) = lower(?) AND table_schema = 'main'
                             AND table_catalog = current_database()
                           ORDER BY ordinal_position""", [name])
        return [(r[0], r[1]) for r in rows] or None

    def claim_names(self) -> None:
        """Names (video tables, videos, functions) are unique, without constraints (see
        schema.py): every change of names updates one row, so two connections changing names
        at once conflict (DuckDB's optimistic concurrency control) and the later one fails
        with a clear error, instead of both inserting the same name."""
        try:
            self.run("""UPDATE vql_catalog.meta
                        SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR)
                        WHERE key = 'names_version'""")
        except duckdb.TransactionException as error:
            raise ConcurrentChangeError(
                "another connection changed the catalog's tables or functions while this "
                "transaction was open (or is changing them now); run the statement again "
                "(after the other commits)"
            ) from error

    def create_video_table(self, name: str) -> None:
        """Register an empty video table; an existing table of that name is an error."""
        self.claim_names()
        if self.is_video_table(name) or self.plain_columns(name) is not None:
            raise CatalogError(f"table {name!r} already exists")
        self.run("INSERT INTO vql_catalog.video_tables VALUES (?, current_timestamp)", [name])

    def create_live_table(self, name: str, info: StreamInfo) -> None:
        """Register a live video table reading the stream ``info`` describes."""
        self.create_video_table(name)
        self.run("INSERT INTO vql_catalog.live_sources VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
                 [name, info.url, info.fps, info.width, info.height, info.codec])

    def live_source(self, table: str) -> StreamInfo | None:
        """The stream a live table reads, as probed when it was made; None for a table of files."""
        rows = self.run("""SELECT url, fps, width, height, codec FROM vql_catalog.live_sources
                           WHERE lower(table_name) = lower(?)""", [table])
        return StreamInfo(*rows[0]) if rows else None

    def watch(self, table: str, source: str) -> None:
        """Make ``table`` follow the glob ``source``: segments join it as they are finished."""
        self.run("INSERT INTO vql_catalog.watched_sources VALUES (?, ?)", [table, source])

    def watched_source(self, table: str) -> str | None:
        """The glob a WATCH table follows; None for any other table."""
        rows = self.run("""SELECT source FROM vql_catalog.watched_sources
                           WHERE lower(table_name) = lower(?)""", [table])
        return str(rows[0][0]) if rows else None

    def record_stream_events(self, table: str, events: t.Sequence[StreamEvent]) -> None:
        """Keep what happened to a live table's stream while a query read it."""
        for e in events:
            self.run("INSERT INTO vql_catalog.stream_events VALUES (?, ?, ?, to_timestamp(?), "
                     "?, ?, ?)", [table, e.url, e.event, e.at, e.frame_id, e.gap_s, e.detail])

    def drop_video_table(self, name: str) -> None:
        """Drop a video table, with the videos and frames no other video table holds."""
        self.claim_names()
        self.run("DELETE FROM vql_catalog.live_sources WHERE lower(table_name) = lower(?)", [name])
        self.run("DELETE FROM vql_catalog.watched_sources WHERE lower(table_name) = lower(?)",
                 [name])
        self.run("DELETE FROM vql_catalog.table_videos WHERE lower(table_name) = lower(?)", [name])
        self.run("DELETE FROM vql_catalog.video_tables WHERE lower(name) = lower(?)", [name])
        orphans = "SELECT video_id FROM vql_catalog.videos EXCEPT SELECT video_id FROM vql_catalog.table_videos"
        self.run(f"DELETE FROM vql_catalog.frames WHERE video_id IN ({orphans})")
        self.run(f"DELETE FROM vql_catalog.videos WHERE video_id IN ({orphans})")

    def record_damaged(self, content: str, frame_ids: t.Collection[int]) -> None:
        """Remember frames of the file with this content (SHA-256) that could not be decoded."""
        self.run("""INSERT INTO vql_catalog.damaged_frames
                    SELECT ?, f.frame_id, current_timestamp
                    FROM unnest(?::INTEGER[]) AS f(frame_id)
                    WHERE NOT EXISTS (SELECT 1 FROM vql_catalog.damaged_frames d
                                      WHERE d.sha256 = ? AND d.frame_id = f.frame_id)""",
                 [content, sorted(frame_ids), content])

    def damaged_frames(self, table: str) -> int:
        """How many frames of a table's videos queries could not decode (0 in a database
        opened read-only from before VQL kept them)."""
        if not self.run("""SELECT 1 FROM information_schema.tables WHERE table_schema =
                           'vql_catalog' AND table_name = 'damaged_frames'"""):
            return 0
        rows = self.run("""SELECT count(DISTINCT (d.sha256, d.frame_id))
                           FROM vql_catalog.damaged_frames d
                           JOIN vql_catalog.videos v USING (sha256)
                           JOIN vql_catalog.table_videos tv USING (video_id)
                           WHERE lower(tv.table_name) = lower(?)""", [table])
        return int(rows[0][0])

    def forget_profiles(self, table: str) -> None:
        """Drop a table's measured costs and accuracies (written apart from the user's
        transaction, so dropped apart from it too: a DELETE in the user's transaction of rows
        the other connection rewrote since it began would abort it)."""
        self.run("DELETE FROM vql_catalog.profiles WHERE lower(table_name) = lower(?)", [table])
        self.run("DELETE FROM vql_catalog.accuracy_profiles WHERE lower(table_name) = lower(?)",
                 [table])

    def canonical_name(self, name: str) -> str:
        """A video table's name as it was created (``name`` itself when there is none)."""
        rows = self.run("SELECT name FROM vql_catalog.video_tables WHERE lower(name) = lower(?)", [name])
        return rows[0][0] if rows else name

    # --- videos ------------------------------------------------------------------------------

    def add_videos(self, table: str, probes: t.Sequence[VideoProbe]) -> int:
        """Add videos to a table; returns how many were new to it. A file already in the
        catalog keeps its id; if it changed on disk, its metadata and frames are refreshed."""
        self.claim_names()
        added = 0
        for probe in probes:
            video_id = self._upsert_video(probe)
            present = self.run("""SELECT 1 FROM vql_catalog.table_videos
                                  WHERE lower(table_name) = lower(?) AND video_id = ?""",
                               [table, video_id])
            if not present:
                self.run("INSERT INTO vql_catalog.table_videos VALUES (?, ?, current_timestamp)",
                         [table, video_id])
                added += 1
        return added

    def _upsert_video(self, probe: VideoProbe) -> int:
        rows = self.run("SELECT video_id, size, mtime, sha256 FROM vql_catalog.videos WHERE path = ?",
                        [probe.path])
        if rows and rows[0][1:] == (probe.size, probe.mtime, probe.sha256):
            return int(rows[0][0])
        if rows:
            video_id = int(rows[0][0])
            self.run("DELETE FROM vql_catalog.frames WHERE video_id = ?", [video_id])
            self.run("DELETE FROM vql_catalog.videos WHERE video_id = ?", [video_id])
        else:
            video_id = int(self.run("SELECT nextval('vql_catalog.video_ids')")[0][0])
        self.run("INSERT INTO vql_catalog.videos VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                 "current_timestamp)",
                 [video_id, probe.path, probe.size, probe.mtime, probe.sha256, probe.fps,
                  probe.frames, probe.width, probe.height, probe.duration, probe.codec,
                  list(probe.keyframes)])
        frames = pa.table({
            "video_id": pa.array(np.full(probe.frames, video_id, dtype=np.int32)),
            "frame_id": pa.array(np.arange(probe.frames, dtype=np.int32)),
            "ts": pa.array(probe.timestamps),
        })
        self.con.register("__vql_new_frames", frames)
        try:
            self.run("INSERT INTO vql_catalog.frames SELECT * FROM __vql_new_frames")
        finally:
            self.con.unregister("__vql_new_frames")
        return video_id

    def videos_of(self, table: str) -> list[VideoRow]:
        """The videos of a table, by video id."""
        rows = self.run("""SELECT v.video_id, v.path, v.size, v.mtime, v.fps, v.frames, v.width,
                                  v.height, v.duration, v.keyframes
                           FROM vql_catalog.videos v JOIN vql_catalog.table_videos tv USING (video_id)
                           WHERE lower(tv.table_name) = lower(?) ORDER BY v.video_id""", [table])
        return [VideoRow(video_id=r[0], path=r[1], size=r[2], mtime=r[3], fps=r[4], frames=r[5],
                         width=r[6], height=r[7], duration=r[8], keyframes=tuple(r[9] or ()))
                for r in rows]

    def timestamps(self, video_id: int) -> np.ndarray:
        """Each frame's presentation time in seconds, by frame id, of one video."""
        result = self.con.execute("SELECT ts FROM vql_catalog.frames WHERE video_id = ? ORDER BY frame_id",
                                  [video_id]).fetchnumpy()
        return np.asarray(result["ts"], dtype=np.float64)

    # --- functions ---------------------------------------------------------------------------

    def functions(self) -> list[StoredFunction]:
        """The stored user functions (CREATE FUNCTION), by name."""
        rows = self.run("SELECT name, kind, params, body, source FROM vql_catalog.functions ORDER BY name")
        return [StoredFunction(r[0], r[1], tuple(r[2] or ()), r[3] or "", r[4] or "")
                for r in rows]

    def save_function(self, stored: StoredFunction) -> None:
        """Store a user function, replacing one of the same name."""
        self.claim_names()
        self.delete_function(stored.name)
        self.run("INSERT INTO vql_catalog.functions VALUES (?, ?, ?, ?, ?, current_timestamp)",
                 [stored.name, stored.kind, list(stored.params), stored.body, stored.source])

    def delete_function(self, name: str) -> bool:
        """Remove a stored function; whether there was one."""
        self.claim_names()
        existed = bool(self.run("SELECT 1 FROM vql_catalog.functions WHERE lower(name) = lower(?)",
                                [name]))
        self.run("DELETE FROM vql_catalog.functions WHERE lower(name) = lower(?)", [name])
        return existed

    # --- views over video tables ----------------------------------------------------------

    def views(self) -> dict[str, str]:
        """Stored views (name -> VQL query text); none in a database older than views that
        is opened read-only (its schema was not upgraded)."""
        # Looked up first (once it is there, it stays): a failed query would abort the user's
        # transaction.
        if not self._has_views:
            self._has_views = bool(self.run(
                """SELECT 1 FROM duckdb_tables() WHERE schema_name = 'vql_catalog'
                   AND table_name = 'views' AND database_name = current_database()"""))
            if not self._has_views:
                return {}
        rows = self.run("SELECT name, sql FROM vql_catalog.views ORDER BY name")
        return {r[0]: r[1] for r in rows}

    def save_view(self, name: str, sql: str) -> None:
        """Store a view over video tables (its VQL query), replacing one of the same name."""
        self.claim_names()
        self.delete_view(name)
        self.run("INSERT INTO vql_catalog.views VALUES (?, ?, current_timestamp)", [name, sql])

    def delete_view(self, name: str) -> bool:
        """Remove a stored view; whether there was one."""
        self.claim_names()
        existed = bool(self.run("SELECT 1 FROM vql_catalog.views WHERE lower(name) = lower(?)",
                                [name]))
        self.run("DELETE FROM vql_catalog.views WHERE lower(name) = lower(?)", [name])
        return existed

    # --- profiles ----------------------------------------------------------------------------

    def save_profiles(self, table: str, profiles: t.Sequence[Profile]) -> None:
        """Replace the table's measurements of the same operator and configuration."""
        for p in profiles:
            self.run("""DELETE FROM vql_catalog.profiles WHERE lower(table_name) = lower(?)
                        AND operator = ? AND variant = ? AND device = ? AND batch_size = ?
                        AND resolution = ?""",
                     [table, p.operator, p.variant, p.device, p.batch_size, p.resolution])
            self.run("INSERT INTO vql_catalog.profiles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                     "current_timestamp)",
                     [table, p.operator, p.variant, p.device, p.batch_size, p.resolution,
                      p.ms_per_frame, p.frames, p.sample])

    def profiles(self, table: str) -> list[Profile]:
        """A table's measured costs per frame, by operator, variant, device and batch size."""
        rows = self.run("""SELECT table_name, operator, variant, device, batch_size, ms_per_frame,
                                  frames, sample, resolution, measured_at
                           FROM vql_catalog.profiles WHERE lower(table_name) = lower(?)
                           ORDER BY operator, variant, device, batch_size""", [table])
        return [Profile(*r) for r in rows]

    def held_contents(self) -> set[str]:
        """The content hashes of every video some video table holds."""
        rows = self.run("""SELECT DISTINCT v.sha256 FROM vql_catalog.videos v
                           JOIN vql_catalog.table_videos USING (video_id)""")
        return {str(r[0]) for r in rows}

    def video_contents(self, table: str) -> dict[int, str]:
        """video_id -> content hash (SHA-256) of a table's videos."""
        rows = self.run("""SELECT v.video_id, v.sha256 FROM vql_catalog.videos v
                           JOIN vql_catalog.table_videos tv USING (video_id)
                           WHERE lower(tv.table_name) = lower(?)""", [table])
        return {int(r[0]): str(r[1]) for r in rows}

    def content(self, table: str) -> str:
        """What a table holds, as one string: its videos' ids and content hashes."""
        rows = self.run("""SELECT v.video_id, v.sha256 FROM vql_catalog.videos v
                           JOIN vql_catalog.table_videos tv USING (video_id)
                           WHERE lower(tv.table_name) = lower(?) ORDER BY v.video_id""", [table])
        return ";".join(f"{r[0]}:{r[1][:16]}" for r in rows)

    def save_accuracy(self, table: str, pipeline: str,
                      profiles: t.Sequence[AccuracyProfile]) -> None:
        """Replace the accuracy profile of one pipeline on a table (a profile's ``measured_at``
        kept when it has one, now otherwise)."""
        self.run("""DELETE FROM vql_catalog.accuracy_profiles
                    WHERE lower(table_name) = lower(?) AND pipeline = ?""", [table, pipeline])
        for p in profiles:
            self.run("INSERT INTO vql_catalog.accuracy_profiles VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?::TIMESTAMP, "
                     "current_timestamp), ?, ?)",
                     [table, pipeline, p.knob, p.value, p.accuracy, p.metric, p.seconds,
                      p.frames, p.sample, p.content, p.change_rate, p.pass_rate,
                      p.measured_at, p.config, json.dumps(dict(p.scores))])

    def accuracy_profiles(self, table: str, pipeline: str | None = None
                          ) -> list[AccuracyProfile]:
        """The measured accuracies of one pipeline on a table (of every pipeline with None),
        by pipeline, knob and value."""
        rows = self.run("""SELECT table_name, pipeline, knob, value, accuracy, metric, seconds,
                                  frames, sample, content, change_rate, pass_rate,
                                  measured_at, coalesce(config, ''), scores
                           FROM vql_catalog.accuracy_profiles
                           WHERE lower(table_name) = lower(?) AND pipeline = coalesce(?, pipeline)
                           ORDER BY pipeline, knob, value, config""", [table, pipeline])
        return [_accuracy(r) for r in rows]

    def save_video_accuracy(self, sha256: str, pipeline: str,
                            profiles: t.Sequence[AccuracyProfile]) -> None:
        """Replace the accuracy profile of one pipeline on one video's content."""
        self.run("DELETE FROM vql_catalog.video_accuracy WHERE sha256 = ? AND pipeline = ?",
                 [sha256, pipeline])
        for p in profiles:
            self.run("INSERT INTO vql_catalog.video_accuracy VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?, coalesce(?::TIMESTAMP, current_timestamp), ?, ?)",
                     [sha256, pipeline, p.knob, p.value, p.accuracy, p.metric, p.seconds,
                      p.frames, p.sample, p.change_rate, p.pass_rate, p.measured_at, p.config,
                      json.dumps(dict(p.scores))])

    def video_accuracy(self, sha256: str) -> list[AccuracyProfile]:
        """The accuracy profiles measured on one video's content, every pipeline's (their
        ``table`` empty, their ``content`` the hash)."""
        rows = self.run("""SELECT '', pipeline, knob, value, accuracy, metric, seconds, frames,
                                  sample, sha256, change_rate, pass_rate, measured_at,
                                  coalesce(config, ''), scores
                           FROM vql_catalog.video_accuracy WHERE sha256 = ?
                           ORDER BY pipeline, knob, value, config""", [sha256])
        return [_accuracy(r) for r in rows]

    def forget_accuracy(self, table: str, pipeline: str) -> None:
        """Drop the accuracy profile of one pipeline on a table."""
        self.run("""DELETE FROM vql_catalog.accuracy_profiles
                    WHERE lower(table_name) = lower(?) AND pipeline = ?""", [table, pipeline])

    def profile_age_days(self, measured_at: t.Any) -> float:
        """How many days ago ``measured_at`` was, by the database's clock."""
        rows = self.run("SELECT epoch(current_timestamp::TIMESTAMP) - epoch(?::TIMESTAMP)",
                        [measured_at])
        return float(rows[0][0]) / 86400

    # --- history -----------------------------------------------------------------------------

    def record_queries(self, entries: t.Sequence[tuple[str, float, float, str, str | None]]) -> None:
        """(sql, started_at epoch seconds, elapsed seconds, status, error) per statement."""
        for sql, started, elapsed, status, error in entries:
            self.run("""INSERT INTO vql_catalog.query_history VALUES
                        (nextval('vql_catalog.query_ids'), ?, to_timestamp(?)::TIMESTAMP, ?, ?, ?)""",
                     [sql, started, elapsed, status, error])


def _accuracy(row: tuple[t.Any, ...]) -> AccuracyProfile:
    """An accuracy profile from a row of the 15 columns ``accuracy_profiles`` reads."""
    return dataclasses.replace(AccuracyProfile(*row[:-1]),
                               scores=tuple(json.loads(row[-1] or "{}").items()))
