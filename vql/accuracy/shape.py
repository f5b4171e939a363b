"""What a query's result is scored on, from its plan (see ``metrics``): its shape, and which
of its output columns a frame function feeds."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, build_scope

from vql.accuracy.identity import lists_tracks
from vql.catalog.schema import VIDEO_COLUMNS
from vql.plan.nodes import ApplyUDF, Filter, Relational, chain

# Columns of a video pipeline that a plan decides (how a row was made), not the video.
PLAN_COLUMNS = frozenset({"computed"})
_ROW_CLAUSES = ("where", "group", "having", "qualify", "joins")


def result_shape(plan: Relational) -> str:
    """'aggregate' when the SQL aggregates or groups; else 'tracks' when it lists tracks (a
    ``track_id`` with a ``path`` or ``first_ts`` and ``last_ts``); else 'selection' when a
    predicate on a frame function's value chooses the rows; else 'per_frame'."""
    tree = sqlglot.parse_one(plan.sql, dialect="duckdb")
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is not None and (select.args.get("group") or any(
            a.find_ancestor(exp.Window) is None for e in select.expressions
            for a in e.find_all(exp.AggFunc))):
        return "aggregate"  # lag() or sum() OVER (...) keeps one row per frame
    udf_columns = _udf_columns(plan)
    if select is not None and udf_columns and lists_tracks(_output_names(select)):
        return "tracks"
    for pipeline in plan.inputs:
        if any(isinstance(n, Filter) and n.columns & udf_columns for n in chain(pipeline)):
            return "selection"
    scope = build_scope(tree)
    if scope is not None and any(_rows_chosen(s, udf_columns) for s in scope.traverse()):
        return "selection"  # a WHERE, a join, ORDER BY ... LIMIT or DISTINCT on a function
    return "per_frame"


def _output_names(select: exp.Select, depth: int = 0) -> list[str]:
    """The names of a SELECT's output columns; a ``*`` over one subquery is its columns."""
    names: list[str] = []
    for projection in select.expressions:
        inner = projection.this if isinstance(projection, exp.Column) else projection
        if not isinstance(inner, exp.Star):
            names.append(projection.alias_or_name)
            continue
        source = select.args.get("from_") or select.args.get("from")
        subquery = source.this if source is not None else None
        if depth < 8 and isinstance(subquery, exp.Subquery) and isinstance(
                subquery.this, exp.Select) and not select.args.get("joins"):
            names.extend(_output_names(subquery.this, depth + 1))
    return names


def _udf_columns(plan: Relational) -> set[str]:
    return {n.call.column for p in plan.inputs for n in chain(p) if isinstance(n, ApplyUDF)}


def scored_positions(plan: Relational) -> tuple[int, ...] | None:
    """The positions of the output columns that a frame function feeds, directly, through
    expressions, subqueries and CTEs, or (for aggregates and windows) through the rows a
    function's value chose or grouped; None when that cannot be told (a ``*``, a set
    operation): then every column is scored. A bare ``computed`` is never scored."""
    analysis = _Analysis.of(plan)
    return None if analysis is None else analysis.positions


def scored_columns(plan: Relational, names: list[str]) -> list[str] | None:
    """``scored_positions`` as the names of a result's columns (``names``, in order)."""
    positions = scored_positions(plan)
    return None if positions is None else [names[i] for i in positions if i < len(names)]


def scoring_sql(plan: Relational) -> str:
    """The plan's SQL without the output columns no frame function feeds: what an accuracy
    profile of the plan depends on (adding ``ts`` or ``path`` to a query keeps its profile)."""
    analysis = _Analysis.of(plan)
    if analysis is None or _positional(analysis.select):
        return plan.sql
    kept = [e for i, e in enumerate(analysis.select.expressions) if i in analysis.positions]
    tree = analysis.select.copy()
    tree.set("expressions", [e.copy() for e in kept] or [exp.Literal.number(1)])
    return tree.sql(dialect="duckdb")


def _positional(select: exp.Select) -> bool:
    """Whether leaving output columns out would change what the query means: GROUP BY ALL,
    GROUP BY or ORDER BY by position, DISTINCT (over every output column)."""
    group, order = select.args.get("group"), select.args.get("order")
    return bool(select.args.get("distinct") or group is not None and (
        group.args.get("all") or any(isinstance(e, exp.Literal) for e in group.expressions))
        or order is not None and any(isinstance(o.this, exp.Literal)
                                     for o in order.expressions))


class _Analysis:
    def __init__(self, select: exp.Select, positions: tuple[int, ...]):
        self.select = select
        self.positions = positions

    @classmethod
    def of(cls, plan: Relational) -> _Analysis | None:
        try:
            tree = sqlglot.parse_one(plan.sql, dialect="duckdb")
            scope = build_scope(tree)
        except SqlglotError:
            return None
        if not isinstance(tree, exp.Select) or scope is None:
            return None
        udfs = _udf_columns(plan)
        filtered = any(isinstance(n, Filter) and n.columns & udfs
                       for p in plan.inputs for n in chain(p))
        rows_chosen = filtered or any(_rows_chosen(s, udfs) for s in scope.traverse())
        positions = []
        for index, projection in enumerate(tree.expressions):
            if isinstance(projection, exp.Star) or projection.find(exp.Star) is not None \
                    and not projection.find(exp.Count):
                return None
            inner = projection.unalias()
            if isinstance(inner, exp.Column) and inner.name in PLAN_COLUMNS:
                continue
            if rows_chosen and inner.find(exp.AggFunc, exp.Window) is not None or \
                    _fed(inner, scope, udfs):
                positions.append(index)
        return cls(tree, tuple(positions))


def _args(tree: exp.Expr, key: str) -> list[exp.Expr]:
    value = tree.args.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _rows_chosen(scope: Scope, udfs: set[str]) -> bool:
    """Whether a function's value decides which rows ``scope`` keeps: in a WHERE, a join's
    condition, GROUP BY, HAVING or QUALIFY; in ORDER BY under a LIMIT (the top rows by a
    function); in DISTINCT; or makes them, one per element of a list it returns (UNNEST:
    the objects of ``track``, the rows of ``tracks(...)``)."""
    select = scope.expression
    if any(c.name in udfs for key in _ROW_CLAUSES for node in _args(select, key)
           for c in node.find_all(exp.Column)):
        return True
    if any(_fed(node, scope, udfs) for key in ("group",) for node in _args(select, key)):
        return True  # grouped by something a function computed (a track's id)
    if not isinstance(select, exp.Select):
        return False
    if any(_fed(u, scope, udfs) for e in select.expressions
           for u in e.find_all(exp.Unnest, exp.Explode)):
        return True
    fed = {e.alias_or_name for e in select.expressions if _fed(e.unalias(), scope, udfs)}

    def chooses(node: exp.Expr) -> bool:
        return any(c.name in fed and not c.table for c in node.find_all(exp.Column)) or \
            _fed(node, scope, udfs)

    ordered = select.args.get("order")
    if ordered is not None and select.args.get("limit") is not None and chooses(ordered):
        return True
    distinct = select.args.get("distinct")
    if distinct is None:
        return False
    on = distinct.args.get("on")
    return chooses(on) if on is not None else bool(fed)


def _fed(node: exp.Expr, scope: Scope, udfs: set[str], depth: int = 0) -> bool:
    """Whether a frame function's column reaches ``node`` (conservatively: yes when unsure)."""
    if depth > 32:
        return True
    for column in node.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            return True
        if column.name in udfs:
            return True
        source = scope.sources.get(column.table) if column.table else (
            next(iter(scope.sources.values())) if len(scope.sources) == 1 else None)
        if isinstance(source, Scope):  # a subquery or CTE: follow the column into it
            select = source.expression
            if not isinstance(select, exp.Select):
                return True
            named = [e for e in select.expressions if e.alias_or_name == column.name]
            if not named or any(isinstance(e, exp.Star) for e in select.expressions) and \
                    not named:
                return True
            if _fed(named[0].unalias(), source, udfs, depth + 1):
                return True
            if _rows_chosen(source, udfs) and named[0].find(exp.AggFunc, exp.Window):
                return True
        elif source is None and column.name not in _BASE_COLUMNS:
            return True  # unresolved: assume it is fed
    return False


_BASE_COLUMNS = frozenset(name for name, _, _ in VIDEO_COLUMNS)
