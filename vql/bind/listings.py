"""What SHOW TABLES, SHOW FUNCTIONS and DESCRIBE <video table> list, as Arrow tables; and the
same listings as SQL, so that a query can read them: ``SELECT name FROM (SHOW FUNCTIONS) WHERE
kind = 'udf'``. They come from VQL's registry and catalog, which DuckDB does not see, so a
listing inside a query becomes a subquery over its rows as constants (a few dozen at most)."""

from __future__ import annotations

import typing as t

import pyarrow as pa
from sqlglot import exp

from vql.catalog import VIDEO_COLUMNS, Catalog
from vql.errors import BindError
from vql.functions import geometry
from vql.functions.registry import FunctionRegistry
from vql.functions.spec import FrameFunction
from vql.video.live import StreamInfo

_SQL_TYPES = {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN", pa.int64(): "BIGINT",
              pa.float64(): "DOUBLE"}


def functions(registry: FunctionRegistry) -> pa.Table:
    """SHOW FUNCTIONS: every function with its signature, traits and origin."""
    rows: dict[str, list[t.Any]] = {k: [] for k in (
        "name", "kind", "signature", "returns", "deterministic", "batchable", "stateful",
        "devices", "cost_ms", "origin", "description")}
    for function in registry:
        traits = function.traits
        udf = isinstance(function, FrameFunction)
        values = (function.name, function.kind, function.signature(), function.result_type(),
                  traits.deterministic, traits.batchable if udf else None,
                  traits.stateful if udf else None, ",".join(traits.devices) if udf else None,
                  traits.cost_ms if udf else None, function.origin, function.doc)
        for key, value in zip(rows, values):
            rows[key].append(value)
    for name, signature, doc in geometry.FUNCTIONS:  # SQL functions over tracks' paths
        head, returns = signature.split(" -> ")
        values = (name, "scalar", head, returns, True, None, None, None, None, "builtin", doc)
        for key, value in zip(rows, values):
            rows[key].append(value)
    schema = pa.schema([(k, pa.bool_() if k in ("deterministic", "batchable", "stateful")
                         else pa.float64() if k == "cost_ms" else pa.string()) for k in rows])
    return pa.table(rows, schema=schema)


def tables(catalog: Catalog) -> pa.Table:
    """SHOW TABLES: video tables with their video and frame counts, then plain tables and
    views (DuckDB's, and those over video tables kept in the catalog)."""
    rows: list[dict[str, t.Any]] = []
    for name in catalog.video_tables():
        live = catalog.live_source(name)
        if live is not None:
            rows.append({"name": name, "kind": "live", "source": live.url, "fps": live.fps,
                         "width": live.width, "height": live.height})
            continue
        videos = catalog.videos_of(name)
        rows.append({"name": name, "kind": "video", "videos": len(videos),
                     "frames": sum(v.frames for v in videos),
                     "damaged_frames": catalog.damaged_frames(name)})
    duckdb_views = {r[0] for r in catalog.run(
        """SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'
           AND database_name = current_database()""")}
    rows += [{"name": name, "kind": "view" if name in duckdb_views else "table"}
             for name in catalog.plain_tables()]
    rows += [{"name": name, "kind": "view"} for name in catalog.views()]
    schema = pa.schema([("name", pa.string()), ("kind", pa.string()), ("videos", pa.int64()),
                        ("frames", pa.int64()), ("damaged_frames", pa.int64()),
                        ("source", pa.string()), ("fps", pa.float64()), ("width", pa.int64()),
                        ("height", pa.int64())])
    return pa.Table.from_pylist(rows, schema=schema).sort_by("name")


# What the columns of a live table hold (DESCRIBE), where they differ from a table of files
_LIVE_COLUMNS = {
    "video_id": "0: a live stream is no video of the catalog (their ids start at 1)",
    "path": "the stream's URL",
    "frame_id": "0-based number of the frame since the query started reading the stream "
                "(a frame dropped to keep up keeps its number)",
    "ts": "seconds from the first frame the query read, by the stream's presentation times "
          "(a reconnection adds the time without frames)",
    "fps": "the stream's frame rate, {fps:g} when probed",
    "width": "frame width, pixels ({width} when probed)",
    "height": "frame height, pixels ({height} when probed)",
    "duration": "NULL: a live stream has no end",
}


def video_columns(live: StreamInfo | None = None) -> pa.Table:
    """DESCRIBE <video table>: the columns every video table has (for a live table, what they
    hold there, with the stream's measured frame rate and size)."""
    described = [c[2] if live is None or c[0] not in _LIVE_COLUMNS else
                 _LIVE_COLUMNS[c[0]].format(fps=live.fps, width=live.width, height=live.height)
                 for c in VIDEO_COLUMNS]
    return pa.table({"column_name": [c[0] for c in VIDEO_COLUMNS],
                     "column_type": [c[1] for c in VIDEO_COLUMNS],
                     "description": described})


def as_query(table: pa.Table) -> exp.Select:
    """A query whose rows are ``table``'s, with its column names and types."""
    columns = [(field.name, _sql_type(field)) for field in table.schema]
    if table.num_rows == 0:
        select = exp.select(*[exp.alias_(exp.cast(exp.null(), kind), name, quoted=True)
                              for name, kind in columns])
        return select.where(exp.false())
    rows = [exp.tuple_(*[literal(value) for value in row.values()])
            for row in table.to_pylist()]
    names = [f"c{i}" for i in range(len(columns))]
    values = exp.values(rows, alias="listing", columns=names)
    return exp.select(*[exp.alias_(exp.cast(exp.column(c), kind), name, quoted=True)
                        for c, (name, kind) in zip(names, columns)]).from_(values)


def _sql_type(field: pa.Field) -> str:
    if field.type not in _SQL_TYPES:
        raise BindError(f"column {field.name!r} of a listing has no SQL type here ({field.type})")
    return _SQL_TYPES[field.type]


def literal(value: t.Any) -> exp.Expr:
    """A Python value (None, bool, number, text) as a SQL literal."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))
