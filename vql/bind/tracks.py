"""``tracks(<video table> [, what])`` in FROM: one row per object tracked through the video.

The binder reads it in place, as a query over the ``track`` frame function, before anything else
is bound (as it reads views over video tables: ``views.py``), so sampling, targets, EXPLAIN and
the result cache treat it as any query over the table::

    SELECT video_id, o.track_id AS track_id, mode(o.label) AS label,
           min(ts) AS first_ts, max(ts) AS last_ts, min(frame_id) AS first_frame,
           max(frame_id) AS last_frame, count(*) AS frames,
           list({'ts': ts, 'x': (o.x1 + o.x2) / 2, 'y': o.y2} ORDER BY ts) AS path
    FROM (SELECT video_id, frame_id, ts, unnest(track(frame, what)) AS o FROM t)
    GROUP BY video_id, o.track_id

``path`` holds the bottom centre of the object's box in each frame it was seen: where a person
or a car meets the ground, so that a line on the road or a zone on the floor is crossed or
entered when the object's feet or wheels are, as supervision's zones count by default.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from vql.errors import BindError, suggestion
from vql.sql.parse import parse_one

NAME = "tracks"
POSITION = ("line", "col", "start", "end")  # sqlglot's position of a node in the text
COLUMNS = ("video_id", "track_id", "label", "first_ts", "last_ts", "first_frame",
           "last_frame", "frames", "path")
QUERY = ("SELECT video_id, o.track_id AS track_id, mode(o.label) AS label, "
         "min(ts) AS first_ts, max(ts) AS last_ts, min(frame_id) AS first_frame, "
         "max(frame_id) AS last_frame, count(*) AS frames, "
         "list({{'ts': ts, 'x': (o.x1 + o.x2) / 2, 'y': o.y2}} ORDER BY ts) AS path "
         "FROM (SELECT video_id, frame_id, ts, unnest(track(frame{what})) AS o "
         "FROM {table}) AS _vql_objects GROUP BY video_id, o.track_id")


def expand(tree: exp.Expr, video_tables: Mapping[str, str]) -> exp.Expr:
    """``tree`` with each ``tracks(...)`` in FROM or JOIN replaced by its query (in place)."""
    for table in list(tree.find_all(exp.Table)):
        call = table.this
        if isinstance(call, exp.Anonymous) and str(call.this).lower() == NAME \
                and isinstance(table.parent, exp.From | exp.Join):
            table.replace(_subquery(table, call, video_tables))
    return tree


def _subquery(table: exp.Table, call: exp.Anonymous,
              video_tables: Mapping[str, str]) -> exp.Subquery:
    args = call.expressions
    usage = "tracks(<video table> [, what]), as in tracks(road, 'vehicle')"
    if not 1 <= len(args) <= 2:
        raise BindError(f"{usage}: {len(args)} arguments given")
    source = args[0]
    if not isinstance(source, exp.Column) or source.table:
        raise BindError(f"{usage}: the first argument names a video table, not "
                        f"{source.sql(dialect='duckdb')}")
    name = video_tables.get(source.name.lower())
    if name is None:
        raise BindError(f"tracks: {source.name!r} is not a video table"
                        f"{suggestion(source.name, list(video_tables.values()))}")
    what = ""
    if len(args) == 2:
        if not (isinstance(args[1], exp.Literal) and args[1].is_string) \
                and not isinstance(args[1], exp.Null | exp.Placeholder | exp.Parameter):
            raise BindError(f"{usage}: what is a string (a label, 'vehicle' or a detection "
                            f"model), not {args[1].sql(dialect='duckdb')}")
        what = ", " + args[1].sql(dialect="duckdb")
    query = parse_one(QUERY.format(what=what, table=exp.to_identifier(name).sql("duckdb")))
    position = {k: v for k, v in call.meta.items() if k in POSITION}
    for node in query.walk():  # an error inside points at the tracks(...) the user wrote
        for key in POSITION:
            node.meta.pop(key, None)
        node.meta.update(position)
    alias = table.args.get("alias")
    if alias is None:
        alias = exp.TableAlias(this=exp.to_identifier(NAME))
    return exp.Subquery(this=query, alias=alias.copy())
