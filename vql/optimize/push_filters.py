"""Rule: evaluate each pipeline filter as early as its inputs allow, cheapest first.

Before (the reference order the binder builds)::

    Project <- Filter(ts < 10) <- Filter(c1) <- ApplyUDF detect -> c1 <- ApplyUDF motion? ...
            <- Decode <- VideoScan

After::

    Project <- ApplyUDF ... <- Filter(c1) <- ApplyUDF detect -> c1 <- Decode <- Filter(ts < 10)
            <- VideoScan

A filter that needs no UDF output runs before decoding; the others run right after the UDFs
they read, ordered by the declared cost of the UDFs they still need, so that frames failing a
cheap predicate never reach an expensive UDF. Stateful UDFs must see every frame in order, so
when a pipeline has one, every stateful UDF runs first and no filter moves below it, but for
an upper bound on time or frame number (``ts < 20``, ``frame_id <= 500``, the top of a
``BETWEEN``): a stateful function's value at a frame depends only on the frames before it, so
the frames past the bound are never decoded, and the whole filter still runs after it. Results
are unchanged: filters are pure, and stateless UDFs compute each row independently.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from vql.plan.nodes import ApplyUDF, Decode, Filter, PlanNode, Relational, chain, rebuild


def push_filters(plan: Relational) -> Relational:
    """The plan with each pipeline's filters as early as their inputs allow, cheapest first."""
    return plan.replace(inputs=tuple(_reorder(node) for node in plan.inputs))


def _reorder(root: PlanNode) -> PlanNode:
    nodes = chain(root)
    filters = [n for n in nodes if isinstance(n, Filter)]
    if not filters:
        return root
    udfs = [n for n in nodes if isinstance(n, ApplyUDF)]
    decode = [n for n in nodes if isinstance(n, Decode)]
    head = [n for n in nodes if not isinstance(n, ApplyUDF | Filter | Decode)]
    base, tail = head[:-1], head[-1:]  # tail is the Project (and any Limit above filters)
    while base and not _is_source_side(base[-1]):
        tail.insert(0, base.pop())
    stateful = [u for u in udfs if u.call.stateful]
    stateless = [u for u in udfs if not u.call.stateful]
    by_column = {u.call.column: u for u in stateless}

    def cost(f: Filter) -> float:
        return sum(by_column[c].call.cost_ms for c in f.columns if c in by_column)

    ordered = sorted(filters, key=cost)  # stable: equal costs keep the user's order
    early = [f for f in ordered if not f.columns & _udf_columns(udfs)]
    # A stateful function needs every frame up to the last it is asked for: only an upper
    # bound moves below it (a copy: the whole filter still runs after it).
    bounds = [b for f in early if (b := upper_bound(f)) is not None] if stateful else early
    early = [] if stateful else early
    out: list[PlanNode] = [*base, *bounds, *decode, *stateful]
    done = {u.call.column for u in stateful}

    def place(column: str) -> None:
        """A function's column, after the columns its guard (a CASE condition) reads."""
        for need in sorted(by_column[column].call.needs & by_column.keys() - done,
                           key=lambda c: stateless.index(by_column[c])):
            place(need)
        if column not in done:
            out.append(by_column[column])
            done.add(column)

    for f in (f for f in ordered if f not in early):
        for column in sorted(f.columns & by_column.keys() - done,
                             key=lambda c: stateless.index(by_column[c])):
            place(column)
        out.append(f)
    out.extend(u for u in stateless if u.call.column not in done)
    return rebuild(out + tail)


ORDER_COLUMNS = frozenset({"ts", "frame_id"})  # a video's frames are in this order
_BELOW: dict[type[exp.Expr], type[exp.Binary]] = {  # x < c, and c > x
    exp.LT: exp.LT, exp.LTE: exp.LTE, exp.GT: exp.LT, exp.GTE: exp.LTE}


def upper_bound(f: Filter) -> Filter | None:
    """The part of ``f`` that bounds ``ts`` or ``frame_id`` from above (its conjuncts of the
    form ``ts < c``, ``c >= frame_id``, ``ts BETWEEN a AND c``), as a filter of its own; None
    when it has none. ``c`` is a literal or a parameter."""
    try:
        tree = sqlglot.parse_one(f.predicate, dialect="duckdb")
    except SqlglotError:
        return None
    kept: list[exp.Expr] = []
    for term in tree.flatten() if isinstance(tree, exp.And) else [tree]:
        if isinstance(term, exp.Between) and _ordered(term.this) and _constant(
                term.args["high"]):
            kept.append(exp.LTE(this=term.this.copy(), expression=term.args["high"].copy()))
            continue
        kind = _BELOW.get(type(term))
        if kind is None:
            continue
        column, value = (term.this, term.expression) if kind is type(term) else (
            term.expression, term.this)
        if _ordered(column) and _constant(value):
            kept.append(kind(this=column.copy(), expression=value.copy()))
    if not kept:
        return None
    bound = exp.and_(*kept)
    return f.replace(predicate=bound.sql(dialect="duckdb"),
                     columns=frozenset(c.name for c in bound.find_all(exp.Column)))


def _ordered(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) and node.name in ORDER_COLUMNS


def _constant(node: exp.Expr) -> bool:
    if isinstance(node, exp.Neg | exp.Paren):
        return _constant(node.this)
    return isinstance(node, exp.Literal) and not node.is_string or isinstance(
        node, exp.Placeholder | exp.Parameter)


def _udf_columns(udfs: list[ApplyUDF]) -> set[str]:
    return {u.call.column for u in udfs}


def _is_source_side(node: PlanNode) -> bool:
    from vql.plan.nodes import Sample, VideoScan

    return isinstance(node, VideoScan | Sample)
