"""Bind a parsed statement: dispatch on its syntax-tree type through a registry."""

from __future__ import annotations

import os
import typing as t
from collections.abc import Callable

import duckdb
from sqlglot import exp

from vql.bind import sqltypes
from vql.bind import statements as st
from vql.bind.options import QueryOptions, lift
from vql.bind.query import QueryBinder, _literal, localize_params, position_of
from vql.catalog import Catalog
from vql.errors import BindError, CatalogError, ParseError, suggestion
from vql.functions.registry import FunctionRegistry
from vql.plan.nodes import Relational
from vql.sql import dialect as d
from vql.sql.parse import DIALECT, SOURCE, parse_one, query_text, to_sql


class Binder:
    """Turns parsed statements into bound ones (``vql.bind.statements``) for the session to run."""

    def __init__(self, catalog: Catalog, registry: FunctionRegistry, params: tuple[t.Any, ...]):
        """Binds statements against ``catalog`` and ``registry``; ``params``: the values of
        the statement's parameter markers. Devices and measured costs are physical: the
        calls are placed after binding (vql.physical.annotate)."""
        self.catalog = catalog
        self.registry = registry
        self.params = params
        self.source = ""  # the statement's text (see bind)

    def bind(self, tree: exp.Expr) -> st.Bound:
        """Bind one parsed statement: VQL's own statements by their binder, anything else as a
        query (``bind_query``)."""
        # The statement's text: result columns are named after what was written in it.
        self.source = str(tree.meta.get(SOURCE) or self.source)
        handler = BINDERS.get(type(tree))
        if handler is not None:
            return handler(self, tree)
        return self.bind_query(tree)

    def bind_query(self, tree: exp.Expr) -> st.Query:
        """Bind a statement DuckDB runs (a query, DDL or DML) into a ``Query``, its SAMPLE and
        targets lifted into ``QueryOptions``; writes to the catalog schema are refused."""
        _check_catalog_untouched(tree)
        if isinstance(tree, exp.Command):
            return self._verbatim(tree)
        self._check_not_shadowing(tree)
        plain, options = lift(tree)
        if isinstance(plain, exp.Create) and str(plain.args.get("kind")).upper() == "VIEW" \
                and options != QueryOptions():
            raise BindError("a view keeps a query, not SAMPLE or a target: put them on the "
                            "query that reads the view (SELECT ... FROM v SAMPLE 1 FPS)")
        return QueryBinder(self.catalog, self.registry, self.params).bind(
            plain, options, self.source)

    def _check_not_shadowing(self, tree: exp.Expr) -> None:
        """A plain table or view may not take the name of a video table, nor a table the
        name of a view over video tables (CREATE VIEW replaces one: see _create_view)."""
        if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Schema | exp.Table):
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            if not isinstance(target, exp.Table) or target.args.get("db"):
                return
            if self.catalog.is_video_table(target.name):
                raise CatalogError(f"{target.name!r} is a video table; choose another name",
                                   position=position_of(target))
            if str(tree.args.get("kind") or "").upper() != "VIEW" \
                    and _view_named(self, target.name) is not None:
                raise CatalogError(f"{target.name!r} is a view over video tables; choose "
                                   "another name", position=position_of(target))

    def _verbatim(self, tree: exp.Expr) -> st.Query:
        """Statements sqlglot keeps as raw commands go to DuckDB exactly as written."""
        text, values = localize_params(tree.copy(), self.params)
        return st.Query(Relational(text.sql(dialect="duckdb"), values, ()), QueryOptions(),
                        returns_rows=None)


def _name(node: exp.Expr) -> str:
    if isinstance(node, exp.Table) and node.args.get("db"):
        raise BindError(f"video tables live in the main schema; drop the qualifier in "
                        f"{node.sql()!r}", position=position_of(node))
    return node.name


CATALOG_SCHEMA = "vql_catalog"
# Statements that change what they name: their targets may not be in the catalog schema.
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Create, exp.Alter,
           exp.TruncateTable, exp.Merge, exp.Copy)


def _check_catalog_untouched(tree: exp.Expr) -> None:
    """The catalog schema is VQL's: SQL may read it, only VQL's own statements change it
    (a DELETE FROM vql_catalog.table_videos would empty video tables behind the engine)."""
    if isinstance(tree, exp.Command):
        text = tree.sql(dialect="duckdb").lower()
        words = text.split()
        if words and words[0] in ("truncate", "alter", "drop", "delete", "update", "insert",
                                  "copy", "vacuum", "comment") and CATALOG_SCHEMA in text:
            raise BindError(_CATALOG_MESSAGE)
        return
    if not isinstance(tree, _WRITES):
        return
    targets = [tree.this, *(tree.expressions if isinstance(tree, exp.TruncateTable) else []),
               *(tree.args.get("tables") or [])]
    for target in targets:
        if target is None:
            continue
        node = target.this if isinstance(target, exp.Schema) else target
        names = [node.args.get("db"), node.args.get("catalog")] if isinstance(node, exp.Table) \
            else [node]
        if any(isinstance(n, exp.Expr) and n.name.lower() == CATALOG_SCHEMA for n in names) \
                or isinstance(node, exp.Table) and node.name.lower() == CATALOG_SCHEMA:
            raise BindError(_CATALOG_MESSAGE, position=position_of(node))


_CATALOG_MESSAGE = (f"{CATALOG_SCHEMA} is VQL's catalog: read it with SQL, change it with VQL's "
                    "statements (LOAD VIDEO, DROP VIDEO TABLE, CREATE/DROP FUNCTION, CLEAR "
                    "CACHE, ANALYZE)")


def _text_argument(binder: Binder, node: exp.Expr, what: str) -> str:
    """A string literal, or the value of a ? parameter, which must be a string."""
    if isinstance(node, exp.Placeholder):
        index = int(node.name)
        if index > len(binder.params):
            raise BindError(f"parameter ${index} has no value ({len(binder.params)} given)")
        value = binder.params[index - 1]
        if not isinstance(value, str | bytes) and not hasattr(value, "__fspath__"):
            raise BindError(f"{what} must be a string, not {type(value).__name__}")
        return os.fsdecode(value) if isinstance(value, bytes) else str(value)
    return str(node.name)


def _create_video_table(binder: Binder, tree: d.CreateVideoTable) -> st.Bound:
    source = _text_argument(binder, tree.args["source"], "the video path")
    name = _name(tree.this)
    if _view_named(binder, name) is not None:
        raise CatalogError(f"{name!r} is a view over video tables; choose another name",
                           position=position_of(tree.this))
    return st.CreateVideoTable(name, source, bool(tree.args.get("load")),
                               bool(tree.args.get("watch")))


# --- views over video tables (vql/bind/views.py) --------------------------------------------


def _view_named(binder: Binder, name: str) -> str | None:
    """The stored view of that name (case-insensitive), as it was named."""
    return next((v for v in binder.catalog.views() if v.lower() == name.lower()), None)


def _create(binder: Binder, tree: exp.Create) -> st.Bound:
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    if str(tree.args.get("kind") or "").upper() != "VIEW" or not isinstance(
            tree.expression, exp.Query) or not isinstance(target, exp.Table):
        return binder.bind_query(tree)
    _check_catalog_untouched(tree)
    body = _with_values(binder, tree.expression.copy())
    # Kept as written (its columns are named after that text), unless values were put in
    written = query_text(tree, binder.source) if not tree.expression.find(
        exp.Placeholder) else None
    if written is not None and not _parses_as(written, tree.expression):
        written = None  # not the text this query was parsed from
    columns = tree.this.expressions if isinstance(tree.this, exp.Schema) else []
    if columns:  # CREATE VIEW v(a, b): the names given to the query's columns
        alias = exp.TableAlias(this=target.this.copy(), columns=[c.copy() for c in columns])
        body = exp.select("*").from_(exp.Subquery(this=body, alias=alias))
        written = f"SELECT * FROM ({written}) AS {alias.sql(dialect='duckdb')}" \
            if written else None
    sql = written or to_sql(body)
    stored = binder.catalog.views()
    reading = {**stored, target.name: sql}  # as it will be: a view that reads itself is refused
    query = QueryBinder(binder.catalog, binder.registry, (), views=reading).bind(
        body, QueryOptions())
    return _create_view(binder, tree, target, sql) if query.plan.inputs else \
        _create_plain_view(binder, tree, target)


def _parses_as(text: str, query: exp.Expr) -> bool:
    try:
        return to_sql(parse_one(text)) == to_sql(query)
    except ParseError:
        return False


def _create_view(binder: Binder, tree: exp.Create, target: exp.Table, sql: str) -> st.Bound:
    """A view that reads video tables: kept in the catalog."""
    name = target.name
    where = position_of(target)
    if target.args.get("db"):
        raise BindError(f"a view over video tables lives in the main schema; drop the "
                        f"qualifier in {target.sql()!r}", position=where)
    properties = tree.args.get("properties")
    if properties is not None and properties.find(exp.TemporaryProperty):
        raise BindError("a view over video tables is kept in the database: TEMP views over "
                        "video tables are not supported", position=where)
    binder._check_not_shadowing(tree)
    exists, replace = bool(tree.args.get("exists")), bool(tree.args.get("replace"))
    existing = _view_named(binder, name)
    if existing is not None and not (exists or replace):
        raise CatalogError(f"view {existing!r} already exists; use CREATE OR REPLACE VIEW",
                           position=where)
    if existing is not None and exists:
        return st.CreateView(existing, None)  # IF NOT EXISTS: nothing to do
    duckdb_view = bool(binder.catalog.run(
        """SELECT 1 FROM duckdb_views() WHERE lower(view_name) = lower(?) AND NOT internal
           AND schema_name = 'main' AND database_name = current_database()""", [name]))
    if binder.catalog.plain_columns(name) is not None:
        if exists:
            return st.CreateView(name, None)
        if not (replace and duckdb_view):
            raise CatalogError(f"{name!r} already exists", position=where)
    return st.CreateView(existing or name, sql, drop_duckdb_view=duckdb_view)


def _create_plain_view(binder: Binder, tree: exp.Create, target: exp.Table) -> st.Bound:
    """A view over plain tables is DuckDB's, as ever; it may replace a catalog view."""
    existing = None if target.args.get("db") else _view_named(binder, target.name)
    if existing is None:
        return binder.bind_query(tree)
    if tree.args.get("exists"):
        return st.CreateView(existing, None)
    if not tree.args.get("replace"):
        raise CatalogError(f"view {existing!r} already exists; use CREATE OR REPLACE VIEW",
                           position=position_of(target))
    return st.CreateView(existing, None, plain=binder.bind_query(tree))


def _drop(binder: Binder, tree: exp.Drop) -> st.Bound:
    tables = tree.args.get("tables") or []
    target = tables[0] if len(tables) == 1 else None
    view = _view_named(binder, target.name) if isinstance(target, exp.Table) \
        and not target.args.get("db") else None
    kind = str(tree.args.get("kind") or "").upper()
    if view is not None and kind == "VIEW":
        return st.DropView(view)
    if view is not None and kind == "TABLE":
        raise CatalogError(f"{view!r} is a view: DROP VIEW {view}",
                           position=position_of(target))
    return binder.bind_query(tree)


def _drop_video_table(binder: Binder, tree: d.DropVideoTable) -> st.Bound:
    name = _name(tree.this)
    exists = bool(tree.args.get("exists"))
    if not exists and not binder.catalog.is_video_table(name):
        raise CatalogError(f"unknown video table {name!r}"
                           f"{suggestion(name, binder.catalog.video_tables())}",
                           position=position_of(tree.this))
    return st.DropVideoTable(name, exists)


def _create_function(binder: Binder, tree: d.CreateVqlFunction) -> st.Bound:
    name = tree.this.name
    replace = bool(tree.args.get("replace"))
    if tree.args.get("source") is not None:
        source = _text_argument(binder, tree.args["source"], "the function file")
        return st.CreateFunction(name, replace, source_file=source)
    params = tuple(_param(binder, name, p) for p in tree.args.get("params") or ()) or ("frame",)
    expression = _with_values(binder, tree.args["expression"].copy())
    body = expression.sql(dialect=DIALECT, normalize_functions=False)
    return st.CreateFunction(name, replace, params=params, body=body)


def _param(binder: Binder, function: str, node: exp.Expr) -> str:
    """A macro parameter as stored: its name, or its name and DuckDB's name of its type."""
    kind = node.args.get("kind") if isinstance(node, exp.ColumnDef) else None
    if kind is None:
        return node.name
    if node.name.lower() == "frame":
        raise BindError(f"function {function!r}: the frame parameter takes no type",
                        position=position_of(node))
    written = kind.sql(dialect="duckdb")
    try:
        canonical = sqltypes.type_name(written)
    except duckdb.Error as error:
        if not binder.catalog.run("SELECT 1 FROM duckdb_types() WHERE lower(type_name) = "
                                  "lower(?) AND database_name = current_database()", [written]):
            reason = str(error).split("\n")[0]
            raise BindError(f"function {function!r}: parameter {node.name!r} has an unknown "
                            f"type {written!r} ({reason})", position=position_of(node)) from None
        canonical = written  # a type of the user's database (CREATE TYPE)
    return f"{node.name} {canonical}"


def _with_values(binder: Binder, expression: exp.Expr) -> exp.Expr:
    """The ? parameters of a function's definition replaced by their values: the function
    keeps the values it was created with (a later statement's parameters are its own)."""
    for node in list(expression.find_all(exp.Placeholder)):
        if not str(node.name).isdigit():
            continue
        index = int(node.name)
        if index > len(binder.params):
            raise BindError(f"parameter ${index} has no value ({len(binder.params)} given)")
        value = binder.params[index - 1]
        if value is not None and not isinstance(value, bool | int | float | str):
            raise BindError(f"a function's definition takes numbers, strings, booleans or NULL "
                            f"as parameters, not {type(value).__name__}")
        literal = _literal(value)
        if node is expression:
            return literal
        node.replace(literal)
    return expression


def _drop_function(binder: Binder, tree: d.DropVqlFunction) -> st.Bound:
    return st.DropFunction(tree.this.name, bool(tree.args.get("exists")))


def _show(binder: Binder, tree: exp.Show) -> st.Bound:
    if str(tree.name).upper() == "TABLES" and not tree.args.get("db"):
        return st.ShowTables()
    return binder.bind_query(tree)


def _describe(binder: Binder, tree: exp.Describe) -> st.Bound:
    target = tree.this
    if isinstance(target, exp.Table) and not target.args.get("db"):
        if binder.catalog.is_video_table(target.name):
            return st.DescribeVideoTable(binder.catalog.canonical_name(target.name))
        views = list(binder.catalog.views())
        if target.name.lower() not in {n.lower() for n in binder.catalog.relation_names()
                                       + views}:
            known = binder.catalog.video_tables() + binder.catalog.relation_names() + views
            raise CatalogError(f"unknown table {target.name!r}{suggestion(target.name, known)}",
                               position=position_of(target))
    return binder.bind_query(tree)


def _analyze(binder: Binder, tree: exp.Analyze) -> st.Bound:
    tables = tree.args.get("tables") or []
    if len(tables) == 1 and isinstance(tables[0], exp.Table) and not tables[0].args.get("db") \
            and binder.catalog.is_video_table(tables[0].name):
        return st.AnalyzeVideoTable(binder.catalog.canonical_name(tables[0].name))
    return binder.bind_query(tree)  # DuckDB's own ANALYZE of plain tables


def _clear_cache(binder: Binder, tree: d.ClearCache) -> st.Bound:
    name = tree.this.name if tree.this is not None else None
    if name is not None:
        binder.registry.require(name)  # an unknown name is an error, with a suggestion
    return st.ClearCache(name)


def _explain(binder: Binder, tree: d.VqlExplain) -> st.Bound:
    inner = binder.bind(tree.this)
    if not isinstance(inner, st.Query):
        raise BindError("EXPLAIN applies to queries and other SQL statements, not to "
                        f"{type(inner).__name__} statements")
    return st.Explain(inner, bool(tree.args.get("analyze")))


def _render(binder: Binder, tree: d.RenderQuery) -> st.Bound:
    inner = binder.bind(tree.this)
    if not isinstance(inner, st.Query) or inner.returns_rows is False:
        raise BindError("RENDER takes a query that returns rows")
    target = _text_argument(binder, tree.args["target"], "the RENDER target")
    return st.Render(inner, target, bool(tree.args.get("timeline")),
                     bool(tree.args.get("overwrite")))


def _set(binder: Binder, tree: exp.Set) -> st.Bound:
    """SET of a session option (``SET runner = 'ray'``); any other SET is DuckDB's."""
    items = tree.expressions
    if len(items) == 1 and isinstance(items[0], exp.SetItem) \
            and isinstance(items[0].this, exp.EQ) \
            and isinstance(items[0].this.this, exp.Column | exp.Identifier):
        name = items[0].this.this.name.lower()
        value = items[0].this.expression
        if name in st.SESSION_OPTIONS:
            if not isinstance(value, exp.Literal | exp.Column | exp.Identifier | exp.Var):
                raise BindError(f"SET {name} takes a name or a string: SET {name} = 'value'",
                                position=position_of(value))
            return st.SetOption(name, value.name)
    return binder.bind_query(tree)


def _transaction(action: str) -> Callable[[Binder, exp.Expr], st.Bound]:
    return lambda binder, tree: st.Transaction(action)


BINDERS: dict[type, Callable[[Binder, t.Any], st.Bound]] = {
    d.CreateVideoTable: _create_video_table,
    d.DropVideoTable: _drop_video_table,
    d.CreateVqlFunction: _create_function,
    d.DropVqlFunction: _drop_function,
    d.ShowFunctions: lambda binder, tree: st.ShowFunctions(),
    d.VqlExplain: _explain,
    d.ClearCache: _clear_cache,
    d.RenderQuery: _render,
    exp.Show: _show,
    exp.Describe: _describe,
    exp.Create: _create,
    exp.Drop: _drop,
    exp.Analyze: _analyze,
    exp.Set: _set,
    exp.Transaction: _transaction("begin"),
    exp.Commit: _transaction("commit"),
    exp.Rollback: _transaction("rollback"),
}

__all__ = ["Binder", "localize_params"]
