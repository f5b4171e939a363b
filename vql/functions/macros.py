"""Macros: functions defined by an expression, expanded into the query by the binder."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from vql.functions.spec import MacroFunction, Param


def substitute(body: exp.Expr, values: dict[str, exp.Expr]) -> exp.Expr:
    """A copy of ``body`` with each unqualified column named after a parameter replaced."""

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in values:
            return values[node.name.lower()].copy()
        return node

    return body.copy().transform(replace)


def macro_from_expression(name: str, params: Sequence[Param], body: exp.Expr, body_sql: str,
                          *, doc: str = "", origin: str = "builtin",
                          returns: str = "") -> MacroFunction:
    """A macro whose expansion substitutes the call's arguments into ``body``."""
    frozen = body.copy()
    return MacroFunction(name=name, params=tuple(params), body=body_sql,
                         expand=lambda values: substitute(frozen, values),
                         doc=doc, origin=origin, returns=returns)
