"""Which metric a query's result is scored with, from its plan (see ``metrics``)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from vql.plan.nodes import ApplyUDF, Filter, Relational, chain


def result_shape(plan: Relational) -> str:
    """'aggregate' when the SQL aggregates or groups; else 'selection' when a predicate on a
    frame function's value chooses the rows; else 'per_frame'."""
    tree = sqlglot.parse_one(plan.sql, dialect="duckdb")
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    if select is not None and (select.args.get("group") or any(
            e.find(exp.AggFunc) for e in select.expressions)):
        return "aggregate"
    udf_columns = {n.call.column for p in plan.inputs for n in chain(p) if isinstance(n, ApplyUDF)}
    for pipeline in plan.inputs:
        if any(isinstance(n, Filter) and n.columns & udf_columns for n in chain(pipeline)):
            return "selection"
    where = select.args.get("where") if select is not None else None
    if where is not None and any(c.name in udf_columns for c in where.find_all(exp.Column)):
        return "selection"
    return "per_frame"
