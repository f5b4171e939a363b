"""Views over video tables.

DuckDB cannot hold ``CREATE VIEW v AS SELECT ... FROM road`` when ``road`` is a video table (no
DuckDB relation of that name exists; each statement reads it through a pipeline of its own).
So such a view is kept in the catalog (``vql_catalog.views``: its name and query, as VQL text)
and the binder reads it in place of the view, as a subquery, before anything else is bound:
``SELECT * FROM v`` binds as ``SELECT * FROM (SELECT ... FROM road) AS v``. A view is bound
each time it is read, so it follows the functions and tables it names, in later statements and
sessions alike. Views over plain tables stay DuckDB's own.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from vql.errors import BindError
from vql.sql.parse import parse_one, projection_texts

MAX_DEPTH = 32  # views over views, at most this deep (and no view that reads itself)
VIEW_MARK = "vql_view"  # meta key on the tables a view's query reads: the view's name
WRITTEN = "vql_written"  # meta key on a view's SELECTs: their projections as written


def expand(tree: exp.Expr, views: Mapping[str, str]) -> exp.Expr:
    """``tree`` with each reference to a stored view replaced by its query (in place, and
    returned: a bare reference may be the root)."""
    if not views:
        return tree
    lowered = {name.lower(): (name, sql) for name, sql in views.items()}
    for _ in range(MAX_DEPTH):
        references = [table for table in tree.find_all(exp.Table) if _names_view(table, lowered)]
        if not references:
            return tree
        for table in references:
            name, sql = lowered[table.name.lower()]
            table.replace(_subquery(table, name, sql))
    chain = sorted({t.name for t in tree.find_all(exp.Table) if _names_view(t, lowered)})
    raise BindError(f"view {chain[0]!r} reads itself (through views over views)")


def _names_view(table: exp.Table, views: Mapping[str, tuple[str, str]]) -> bool:
    """A relation read in FROM or JOIN, named like a view and not a CTE in reach."""
    if not isinstance(table.this, exp.Identifier) or table.args.get("db") \
            or table.name.lower() not in views \
            or not isinstance(table.parent, exp.From | exp.Join):
        return False
    return table.name.lower() not in _ctes_in_reach(table)


def _ctes_in_reach(node: exp.Expr) -> set[str]:
    names = set()
    while node.parent is not None:
        node = node.parent
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            names |= {cte.alias.lower() for cte in with_.expressions}
    return names


def _subquery(table: exp.Table, name: str, sql: str) -> exp.Expr:
    query = parse_one(sql)
    for select in query.find_all(exp.Select):  # its columns are named after this text
        select.meta[WRITTEN] = projection_texts(select, sql)
    for node in query.walk():  # positions point into the view's text, not the statement's
        for key in ("line", "col", "start", "end"):
            node.meta.pop(key, None)
        if isinstance(node, exp.Table):
            node.meta.setdefault(VIEW_MARK, name)
    alias = table.args.get("alias")
    if alias is None:
        alias = exp.TableAlias(this=exp.to_identifier(table.name))
    return exp.Subquery(this=query, alias=alias.copy())
