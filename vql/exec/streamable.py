"""Which SQL a statement over live tables can run in micro-batches (``continuous.py``), and how.

Row by row: projections, filters, functions, joins with stored tables, ``UNION ALL``, a final
``LIMIT``: each micro-batch gives the rows one run over the whole stream would give.

By windows of time: a ``GROUP BY`` with a key on ``ts`` (``floor(ts / 5)``, ``time_bucket(INTERVAL
'5 seconds', to_timestamp(ts))``) over one live table. The rows are held until their window
closes, that is until a row of a later window arrives (a watermark on presentation time, which
only grows), and the SQL then runs over the closed windows' rows: aggregates, ``HAVING``,
``ORDER BY`` and ``DISTINCT`` apply to whole windows, and each window's rows come out once.
Whatever the query does above the ``GROUP BY`` sees one emission's windows at a time.

Anything else that needs the stream's end is refused with the reason, before anything connects.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from vql.errors import NotSupportedError

KEY_TS = "__vql_ts"  # the key query's column of presentation times
KEY_PATH = "__vql_path"  # ... of the video (a WATCH table's segment), NULL if not known


@dataclass(frozen=True, slots=True)
class Windows:
    """How a windowed statement finds each row's window: ``keys_sql`` gives, for each row of
    the live ``view``, its ``ts`` (as KEY_TS), its path (KEY_PATH) and its window keys (the
    other columns)."""

    view: str
    keys_sql: str
    parameters: bool = False  # whether keys_sql reads the statement's parameters


@dataclass(frozen=True, slots=True)
class StreamShape:
    """How a statement over live tables runs: its outermost LIMIT, its windows if any, and
    whether it inserts its rows (INSERT ... SELECT) rather than returning them."""

    limit: int | None
    windows: Windows | None
    inserts: bool = False


def stream_shape(sql: str, live_views: set[str], video_views: set[str]) -> StreamShape:
    """The shape of ``sql`` (``live_views``: the views of live pipelines; ``video_views``:
    every pipeline's), or ``NotSupportedError`` saying why it cannot run over a stream."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    query = tree if isinstance(tree, exp.Query) else tree.find(exp.Query) or tree
    live = {v.lower() for v in live_views}
    videos = {v.lower() for v in video_views}
    if any(_joins_live(s, live, videos) for s in query.find_all(exp.Select)):
        raise NotSupportedError("a join of a live table with another video table is not "
                                "supported: their frames arrive at different times; UNION ALL "
                                "them, or join with a stored table")
    tables = [x for x in query.find_all(exp.Table) if x.name.lower() in live]
    windows = [w for w in (_check_path(x, query) for x in tables) if w is not None]
    if windows and len(tables) > 1:
        raise NotSupportedError("a GROUP BY window over more than one live table is not "
                                "supported yet: query each camera on its own")
    limit = query.args.get("limit") if isinstance(query, exp.Select | exp.Union) else None
    count = limit.expression if isinstance(limit, exp.Limit) else None
    number = int(count.this) if isinstance(count, exp.Literal) and count.this.isdigit() else None
    return StreamShape(number, windows[0] if windows else None, isinstance(tree, exp.Insert))


def _check_path(table: exp.Table, query: exp.Expr) -> Windows | None:
    """Check the SELECTs from a live table out to the query; the windows of the first one
    that groups, if one does."""
    path = _selects_above(table)
    for index, select in enumerate(path):
        if select.args.get("group"):
            for inner in path[:index]:
                _check_rows(inner, outermost=False)
            return _windows(select, table, query)
        _check_rows(select, outermost=select is query)
    return None


def _selects_above(node: exp.Expr) -> list[exp.Select]:
    found = []
    while node.parent is not None:
        node = node.parent
        if isinstance(node, exp.Select):
            found.append(node)
    return found


_NEEDS_THE_END = (
    ("group", "GROUP BY"), ("order", "ORDER BY"), ("distinct", "DISTINCT"),
    ("offset", "OFFSET"), ("having", "HAVING"), ("qualify", "QUALIFY"))


def _check_rows(select: exp.Select, outermost: bool) -> None:
    """A SELECT that must work row by row."""
    for key, words in _NEEDS_THE_END:
        if select.args.get(key):
            raise NotSupportedError(
                f"{words} over a live table needs a window of time: its rows never end, and "
                f"{words} needs them all; GROUP BY a window of ts (floor(ts / 5)), select rows "
                f"as they come (add a LIMIT to stop), or read a recording of the stream")
    if not outermost and select.args.get("limit"):
        raise NotSupportedError("a LIMIT inside a subquery over a live table is not supported: "
                                "put the LIMIT on the outermost query")
    for expression in select.expressions:
        own = [n for n in expression.walk() if isinstance(n, exp.AggFunc | exp.Window)
               and n.find_ancestor(exp.Select) is select]
        if own:
            raise NotSupportedError(
                f"{own[0].sql(dialect='duckdb')} over a live table needs a window of time: "
                f"an aggregate or window function needs every row, and a live table's rows "
                f"never end; GROUP BY a window of ts, such as floor(ts / 5)")


def _windows(select: exp.Select, table: exp.Table, query: exp.Expr) -> Windows:
    """The key query of a SELECT that groups rows of a live table by windows of ``ts``."""
    if select.args.get("offset") or (select is not query and select.args.get("limit")):
        raise NotSupportedError("OFFSET, or a LIMIT inside a subquery, over a live table is "
                                "not supported: put the LIMIT on the outermost query")
    group = select.args["group"]
    keys = [_resolved(e, select) for e in group.expressions]
    if group.args.get("all"):  # GROUP BY ALL: every output that aggregates nothing
        keys += [o.this if isinstance(o, exp.Alias) else o for o in select.expressions
                 if not o.find(exp.AggFunc)]
    timed = [k for k in keys if any(c.name.lower() == "ts" for c in k.find_all(exp.Column))]
    if not timed:
        raise NotSupportedError(
            "a GROUP BY over a live table needs a window of time among its keys, an "
            "expression of ts such as floor(ts / 5) or time_bucket(INTERVAL '5 seconds', "
            "to_timestamp(ts)): a group is complete only when its window has passed")
    ts = next(c for c in timed[0].find_all(exp.Column) if c.name.lower() == "ts")
    # a WATCH table's ts starts again with each segment: its path tells segments apart
    path = exp.column("path", table=ts.table or None) if isinstance(
        select.args["from_"].this, exp.Table) else exp.null()
    keyed = exp.select(exp.alias_(ts.copy(), KEY_TS), exp.alias_(path, KEY_PATH),
                       *(exp.alias_(k.copy(), f"__vql_k{i}") for i, k in enumerate(timed)))
    keyed.set("from_", select.args["from_"].copy())
    if select.args.get("joins"):
        keyed.set("joins", [j.copy() for j in select.args["joins"]])
    if query.args.get("with_"):
        keyed.set("with_", query.args["with_"].copy())
    return Windows(table.name, keyed.sql(dialect="duckdb"),
                   keyed.find(exp.Placeholder, exp.Parameter) is not None)


def _resolved(key: exp.Expr, select: exp.Select) -> exp.Expr:
    """A GROUP BY key as an expression: ``GROUP BY 1`` and ``GROUP BY alias`` name an output."""
    outputs = select.expressions
    if isinstance(key, exp.Literal) and key.this.isdigit() and 0 < int(key.this) <= len(outputs):
        chosen = outputs[int(key.this) - 1]
        return chosen.this if isinstance(chosen, exp.Alias) else chosen
    if isinstance(key, exp.Column) and not key.table:
        for output in outputs:
            if isinstance(output, exp.Alias) and output.alias.lower() == key.name.lower():
                return output.this
    return key


def _joins_live(select: exp.Select, live: set[str], videos: set[str]) -> bool:
    sources = [select.args.get("from_"), *(select.args.get("joins") or [])]
    named = [x.name.lower() for s in sources if s is not None for x in s.find_all(exp.Table)
             if x.name.lower() in videos]
    return len(named) > 1 and any(name in live for name in named)
