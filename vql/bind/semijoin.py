"""Semi-join reduction: a video table joined with a plain table on its frame keys reads only
the frames that can match.

``SELECT ... FROM events e JOIN room r ON r.frame_id = e.frame_id`` (or ``WHERE r.frame_id IN
(SELECT frame_id FROM events)``) would decode and compute every frame of ``room`` for DuckDB
to keep three. The binder asks the plain side for its distinct keys first (it is a plain
table in the user's database, cheap to read) and adds ``frame_id IN (...)`` to the video
pipeline as a filter on metadata, which the optimizer runs before decoding. The join itself
stays as written, so the result is the same; only rows that could not match are never made.
Applies to inner joins and LEFT joins whose right side is the video (rows of the video that
match nothing are dropped either way) on ``frame_id``, ``ts`` or ``video_id``, and to
uncorrelated ``IN`` subqueries over one plain table; at most MAX_KEYS keys.
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Callable

from sqlglot import exp

KEY_COLUMNS = frozenset({"frame_id", "ts", "video_id"})
# More keys than this are not worth it: the filter's IN list is evaluated on every batch.
MAX_KEYS = 2_000

Keys = Callable[[str], list[t.Any] | None]  # runs a query, gives its first column (None: failed)


def _video_key(column: exp.Expr, alias: str, single: bool) -> str | None:
    if not isinstance(column, exp.Column) or column.name.lower() not in KEY_COLUMNS:
        return None
    if column.table == alias or (not column.table and single):
        return column.name.lower()
    return None


def join_keys(select: exp.Select, alias: str, plain: dict[str, exp.Table],
              has_column: Callable[[str, str], bool]) -> list[tuple[str, str]]:
    """(video key column, SQL of the plain side's distinct keys) for each inner join condition
    ``video.key = plain.column`` of ``select`` (``has_column(table, column)``: it exists)."""
    found = []
    for join in select.args.get("joins") or []:
        side = (join.args.get("side") or "").upper()
        joined = join.this.alias_or_name if isinstance(join.this, exp.Table) else None
        # Rows of the video that match nothing are dropped by an inner join, and by a LEFT
        # join whose right side is the video.
        if side and not (side == "LEFT" and joined == alias):
            continue
        if (join.args.get("kind") or "INNER").upper() not in ("INNER", "SEMI", "OUTER"):
            continue
        condition = join.args.get("on")
        if condition is None:
            continue
        for conjunct in condition.flatten() if isinstance(condition, exp.And) else [condition]:
            if not isinstance(conjunct, exp.EQ):
                continue
            for mine, other in ((conjunct.this, conjunct.expression),
                                (conjunct.expression, conjunct.this)):
                key = _video_key(mine, alias, False)
                if key is None or not isinstance(other, exp.Column) or other.table not in plain \
                        or not has_column(plain[other.table].name, other.name):
                    continue
                table = plain[other.table]
                if table.args.get("db") or table.args.get("catalog"):
                    continue  # another schema or attached database: not looked up here
                source = exp.Table(this=table.this.copy(), db=table.args.get("db"))
                found.append((key, f"SELECT DISTINCT {exp.column(other.name).sql('duckdb')} "
                                   f"FROM {source.sql('duckdb')}"))
    return found


def in_subquery_keys(select: exp.Select, alias: str, single: bool,
                     plain_only: Callable[[exp.Expr], bool]) -> list[tuple[str, str]]:
    """(video key column, SQL of the subquery) for each WHERE conjunct ``video.key IN
    (SELECT ...)`` whose subquery reads plain tables only and refers to nothing outside."""
    where = select.args.get("where")
    if where is None:
        return []
    found = []
    condition = where.this
    for conjunct in condition.flatten() if isinstance(condition, exp.And) else [condition]:
        if not isinstance(conjunct, exp.In) or not isinstance(conjunct.args.get("query"),
                                                               exp.Subquery):
            continue
        key = _video_key(conjunct.this, alias, single)
        query = conjunct.args["query"].this
        if key is None or query.find(exp.Placeholder) is not None or not plain_only(query):
            continue
        found.append((key, query.sql("duckdb")))
    return found


def key_filter(key: str, values: list[t.Any] | None) -> str | None:
    """The pipeline filter for ``key`` given the plain side's keys (None: do not filter).
    Only plain finite numbers are used as they are: a DECIMAL, a string or a NaN compares
    with DuckDB's casts, which a literal list would not reproduce, so then nothing is
    filtered."""
    if values is None or len(values) > MAX_KEYS:
        return None
    present = [v for v in values if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
           for v in present):
        return None
    kept = sorted(set(present))
    if not kept:
        return "false"
    literals = ", ".join(exp.Literal.number(v).sql("duckdb") for v in kept)
    return f"{key} IN ({literals})"
