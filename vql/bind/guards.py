"""Conditional frame functions: a call inside a CASE (or IF) branch is computed only for the
rows that reach the branch.

``CASE WHEN brightness > 0.5 THEN count_objects(frame, 'person') END`` would otherwise run the
detector on every frame and throw most values away. The binder notes, for each call, the
branches it sits in (``branches``); once every call of the statement has become a pipeline
column, the conditions of those branches become the call's guard (``guard_sql``): a predicate
over the pipeline's columns under which the function runs; elsewhere its column is NULL, which
the CASE never reads. A call that also appears outside any branch, or whose branch conditions
read anything but its own video table's columns (another table, a subquery, an aggregate or a
window), is computed for every row, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp


@dataclass(frozen=True)
class Branch:
    """One CASE/IF branch a call sits in: ``kind`` is ``then`` (the i-th WHEN's result),
    ``when`` (the i-th condition itself: reached when the earlier ones were not true),
    ``else`` (a CASE's ELSE), or ``if_true`` / ``if_false`` (IF(c, a, b))."""

    kind: str
    node: exp.Expr        # the Case, or the standalone If
    index: int = 0        # the WHEN's position in the Case


def branches(node: exp.Expr) -> list[Branch]:
    """The CASE/IF branches around ``node``, innermost first (none: always evaluated)."""
    found: list[Branch] = []
    child, parent = node, node.parent
    while parent is not None and not isinstance(parent, exp.Query):
        if isinstance(parent, exp.Window | exp.AggFunc | exp.Lambda):
            # A window or an aggregate reads the value on other rows than the CASE's, and a
            # lambda's parameters are not columns: computed on every row.
            return []
        if isinstance(parent, exp.If) and isinstance(parent.parent, exp.Case):
            case = parent.parent
            index = next(i for i, x in enumerate(case.args.get("ifs") or []) if x is parent)
            if child.arg_key == "true":
                found.append(Branch("then", case, index))
            elif child.arg_key == "this" and index > 0:
                found.append(Branch("when", case, index))
        elif isinstance(parent, exp.If):
            if child.arg_key in ("true", "false"):
                found.append(Branch("if_" + child.arg_key, parent))
        elif isinstance(parent, exp.Case) and child.arg_key == "default":
            found.append(Branch("else", parent))
        child, parent = parent, parent.parent
    return found


def _condition(case: exp.Expr, index: int) -> exp.Expr:
    when = (case.args.get("ifs") or [])[index].this
    subject = case.args.get("this")
    return exp.EQ(this=subject.copy(), expression=when.copy()) if subject is not None \
        else when.copy()


def _is_true(condition: exp.Expr) -> exp.Expr:
    return exp.Is(this=exp.paren(condition, copy=False), expression=exp.true())


def _not_true(condition: exp.Expr) -> exp.Expr:
    return exp.Not(this=_is_true(condition))


def condition(branch: Branch) -> exp.Expr:
    """When ``branch`` is reached, as a SQL condition (NULL conditions count as not true)."""
    node = branch.node
    if branch.kind == "if_true":
        return _is_true(node.this.copy())
    if branch.kind == "if_false":
        return _not_true(node.this.copy())
    count = len(node.args.get("ifs") or []) if branch.kind == "else" else branch.index
    parts = [_not_true(_condition(node, i)) for i in range(count)]
    if branch.kind == "then":
        parts.insert(0, _is_true(_condition(node, branch.index)))
    return exp.and_(*parts, copy=False) if parts else exp.true()


def guard(occurrences: list[list[Branch]]) -> exp.Expr | None:
    """The condition under which a call is needed: any occurrence's branches all reached.
    None when an occurrence sits in no branch (the call is needed on every row)."""
    if not occurrences or any(not found for found in occurrences):
        return None
    return exp.or_(*(exp.and_(*(condition(b) for b in found), copy=False)
                     for found in occurrences), copy=False)


def lambda_variable(column: exp.Column) -> bool:
    """Whether ``column`` names a lambda's parameter (``lambda d: d.label``), not a column."""
    first = (column.table or column.name).lower()
    scope = column.find_ancestor(exp.Lambda)
    while scope is not None:
        if first in {e.name.lower() for e in scope.expressions}:
            return True
        scope = scope.find_ancestor(exp.Lambda)
    return False


VOLATILE = frozenset({"random", "uuid", "gen_random_uuid", "nextval", "setseed", "now",
                      "current_timestamp", "get_current_timestamp", "current_time",
                      "current_date", "today"})


def readable(predicate: exp.Expr, alias: str, columns: frozenset[str]) -> bool:
    """Whether the pipeline of the video table ``alias`` can evaluate ``predicate`` itself,
    exactly as DuckDB would: only its own columns (``columns``: the names an unqualified
    column may have), no subquery, aggregate, window, parameter or volatile function (the
    pipeline's draw of random() is not DuckDB's)."""
    if predicate.find(exp.Query, exp.AggFunc, exp.Window, exp.Placeholder, exp.Rand,
                      exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime) is not None:
        return False
    for call in predicate.find_all(exp.Func):
        name = call.name if isinstance(call, exp.Anonymous) else call.sql_name()
        if name.lower() in VOLATILE:
            return False
    for column in predicate.find_all(exp.Column):
        if lambda_variable(column):
            continue
        if column.table and column.table != alias:
            return False
        if not column.table and column.name not in columns:
            return False
    return True
