"""Rule: stop a pipeline once it has produced the rows a plain LIMIT needs.

Before::  Relational(SELECT ... LIMIT 5, rows_needed=5) <- Project <- ApplyUDF <- Decode <- Scan
After::   Relational(SELECT ... LIMIT 5, rows_needed=5) <- Project <- Limit 5 <- ApplyUDF <- ...

The binder sets ``rows_needed`` only when the SQL above the pipeline neither filters, groups,
orders nor joins, so the first N pipeline rows are the result. Decoding stops early.
"""

from __future__ import annotations

from vql.plan.nodes import Limit, Project, Relational


def push_limit(plan: Relational) -> Relational:
    """The plan with its one pipeline stopped after ``rows_needed`` rows (a ``Limit``)."""
    if plan.rows_needed is None or len(plan.inputs) != 1:
        return plan
    project = plan.inputs[0]
    if not isinstance(project, Project) or isinstance(project.child, Limit):
        return plan
    limited = project.replace(child=Limit(project.child, plan.rows_needed))
    return plan.replace(inputs=(limited,))
