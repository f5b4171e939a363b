"""Binding a statement that reads video tables.

The statement's syntax tree is rewritten so that DuckDB can run it: every reference to a video
table becomes a view over a video pipeline, every frame-function call becomes a column that the
pipeline computes, and WHERE conjuncts that depend on one video table only move into its
pipeline. The steps, in order:

1. derived columns: a bare name that is no column but a function of a frame becomes a call
   (``congested`` -> ``congested(room.frame)``);
2. macros (built-in and ``CREATE FUNCTION ... AS``) are expanded, repeating 1-2 to a fixpoint;
3. frame-function calls are collected per video table (equal calls share one column) and
   replaced by column references;
4. pushable WHERE conjuncts are moved into the pipelines;
5. each video table reference is replaced by its pipeline's view.

Before step 1, views over video tables are read in place (``views.py``) and listings inside
the query (``(SHOW FUNCTIONS)``) become constant subqueries (``listings.py``).

Output columns keep the names DuckDB would give what the user wrote (``SELECT congested``
yields a column congested, ``SELECT brightness * 2`` one named ``(brightness * 2)``), and no
internal name (``names.py``) reaches the user.
"""

from __future__ import annotations

import dataclasses
import typing as t
from dataclasses import dataclass, field

import duckdb
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from vql.bind import guards, listings, names, semijoin, sqltypes, tracks, views
from vql.bind.options import QueryOptions
from vql.bind.statements import Query
from vql.catalog import METADATA_COLUMNS, Catalog
from vql.catalog.schema import VIDEO_COLUMNS
from vql.errors import BindError, CatalogError, Position, suggestion
from vql.functions.registry import FunctionRegistry
from vql.functions.spec import (
    NO_DEFAULT,
    PARAM_TYPES,
    FrameFunction,
    FunctionRef,
    MacroFunction,
    Param,
)
from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    Filter,
    PlanNode,
    Project,
    Relational,
    Sample,
    UDFCall,
    VideoScan,
)
from vql.sql import dialect as d
from vql.sql.parse import projection_texts, to_sql

VIDEO_COLUMN_NAMES = frozenset(name for name, _, _ in VIDEO_COLUMNS)
MAX_EXPANSION_ROUNDS = 32


@dataclass
class _Source:
    """Working state for one video table reference while its statement is bound."""

    alias: str
    table: str
    node: exp.Table
    view: str
    calls: dict[tuple[str, tuple[t.Any, ...]], UDFCall] = field(default_factory=dict)
    filters: list[tuple[str, frozenset[str], tuple[t.Any, ...]]] = field(default_factory=list)
    encode_frame: bool = False
    # per call: the CASE/IF branches each of its occurrences sits in (vql/bind/guards.py)
    branches: dict[tuple[str, tuple[t.Any, ...]], list[list[guards.Branch]]] = field(
        default_factory=dict)


def position_of(node: exp.Expr | None) -> Position | None:
    """Where a node starts in the statement text, from its first positioned identifier."""
    if node is None:
        return None
    candidates = [node] if isinstance(node, exp.Identifier | exp.Anonymous) else []
    candidates.extend(node.find_all(exp.Identifier))
    for ident in candidates:
        meta = ident.meta
        if "line" in meta and "col" in meta:
            length = max(int(meta.get("end", 0)) - int(meta.get("start", 0)) + 1, 1)
            return Position(int(meta["line"]), max(int(meta["col"]) - length + 1, 1), length)
    return None


_is_lambda_var = guards.lambda_variable


_literal = listings.literal


def _outer_queries(tree: exp.Expr) -> list[exp.Query]:
    """The queries a statement is made of: itself, or those in a statement that is no query
    (CREATE TABLE ... AS, INSERT, SUMMARIZE; that of a SUMMARIZE or DESCRIBE in a FROM too)."""
    if isinstance(tree, exp.Query):
        return [tree]
    return [q for q in tree.find_all(exp.Query) if not isinstance(
        q.find_ancestor(exp.Query, exp.Summarize, exp.Describe), exp.Query)]


def localize_params(tree: exp.Expr, values: tuple[t.Any, ...]) -> tuple[exp.Expr, tuple[t.Any, ...]]:
    """Renumber the $n markers of ``tree`` to $1..$k and pick their values (in place)."""
    mapping: dict[int, int] = {}
    picked: list[t.Any] = []
    for node in tree.find_all(exp.Placeholder):
        if not str(node.name).isdigit():
            continue
        old = int(node.name)
        if old < 1 or old > len(values):
            raise BindError(f"parameter ${old} has no value ({len(values)} given)")
        if old not in mapping:
            picked.append(values[old - 1])
            mapping[old] = len(picked)
        node.set("this", str(mapping[old]))
    return tree, tuple(picked)


class QueryBinder:
    """Binds one statement (see the module docstring)."""

    def __init__(self, catalog: Catalog, registry: FunctionRegistry, params: tuple[t.Any, ...],
                 views: dict[str, str] | None = None):
        """``views``: the views over video tables to read (default: the catalog's)."""
        self.catalog = catalog
        self.registry = registry
        self.params = params
        self._columns: dict[str, set[str] | None] = {}
        self.video_tables = {n.lower(): n for n in catalog.video_tables()}
        self.sources: dict[int, _Source] = {}
        self.notices: list[str] = []  # what the functions used want the user told
        self.views = catalog.views() if views is None else views  # views.py
        self._calls = 0  # frame-function columns made: each gets a number of its own
        self._call_nodes: dict[str, tuple[exp.Expr, str]] = {}  # column -> first call, alias

    # --- entry point -------------------------------------------------------------------------

    def bind(self, tree: exp.Expr, options: QueryOptions, text: str = "") -> Query:
        """``text``: the statement ``tree`` was parsed from (result columns are named after
        what was written in it)."""
        tree = views.expand(self._over_query(tree.copy()), self.views)
        tree = tracks.expand(tree, self.video_tables)
        tree = self._read_listings(tree)
        roots = _outer_queries(tree)
        self._check_tables(roots)
        if not any(self._video_sources(s) for root in roots for s in traverse_scope(root)):
            self._reject_frame_functions(tree)
            return self._plain(tree, options)
        if options.has_targets and not isinstance(tree, exp.Query):
            raise BindError(f"WITH {options.target_text()} applies to a query, not to "
                            f"{tree.key.upper()}; SAMPLE n FPS may follow it")
        named = self._name_projections(roots, text)
        self._expand(roots)
        for root in roots:
            for scope in traverse_scope(root):
                self._collect_calls(scope)
        for source in self.sources.values():
            self._guard_calls(source)
        self._reject_frame_functions(tree)
        for root in roots:
            for scope in traverse_scope(root):
                self._reduce_by_keys(scope)
                self._push_filters(scope)
                self._hide_internal_columns(scope)
        rows_needed = self._rows_needed(roots)
        inputs = tuple(self._pipeline(source, options) for source in self.sources.values())
        for source in self.sources.values():
            source.node.replace(exp.alias_(exp.to_table(source.view), source.alias, table=True))
        self._settle_names(named)
        tree, values = localize_params(tree, self.params)
        relational = Relational(to_sql(tree, "duckdb"), values, inputs, rows_needed)
        return self._query(relational, tree, options)

    def _plain(self, tree: exp.Expr, options: QueryOptions) -> Query:
        if options.sample_fps is not None:
            raise BindError("SAMPLE applies to video tables; this query reads none")
        tree, values = localize_params(tree, self.params)
        return self._query(Relational(to_sql(tree, "duckdb"), values, ()), tree, options)

    def _query(self, relational: Relational, tree: exp.Expr, options: QueryOptions) -> Query:
        returning = bool(tree.args.get("returning"))
        dml = isinstance(tree, exp.Insert | exp.Update | exp.Delete) and not returning
        rows = returning or isinstance(tree, exp.Query | exp.Show | exp.Describe | exp.Pragma
                                       | exp.Summarize)
        return Query(relational, options, returns_rows=rows, rowcount_from_result=dml,
                     notices=tuple(self.notices), names=tuple(self._user_names().items()))

    # --- names the user sees (names.py) ------------------------------------------------------

    def _user_names(self) -> dict[str, str]:
        """Internal name -> what the user wrote: a pipeline's view -> its table, a function
        column -> the call (its first one; ``frame`` unqualified when one table is read)."""
        found = {s.view: s.node.name for s in self.sources.values()}
        for column, (call, alias) in self._call_nodes.items():
            call = call.copy()
            if len(self.sources) == 1:
                for col in call.find_all(exp.Column):
                    if col.table == alias and col.name.lower() == "frame":
                        col.set("table", None)
            found[column] = call.meta.get("vql_text") or _source_text(call)
        return found

    def _name_projections(self, roots: list[exp.Query],
                          text: str) -> list[tuple[exp.Alias, str, str]]:
        """Each unaliased projection of a SELECT that reads a video table, aliased before it
        is rewritten (``detect(frame)[1]`` would otherwise be named after
        ``__vql_detect_0``); ``_settle_names`` names it as DuckDB names what was written.
        Returns (alias, its text now, its text as written)."""
        named = []
        for root in roots:
            for scope in traverse_scope(root):
                select = scope.expression
                if not isinstance(select, exp.Select) or not self._video_sources(scope):
                    continue
                written = select.meta.get(views.WRITTEN) or projection_texts(select, text)
                for index, node in enumerate(list(select.expressions)):
                    if isinstance(node, exp.Alias | exp.Column | exp.Star) or node.find(
                            exp.Columns) is not None:
                        continue  # a column keeps its name; COLUMNS(...) names several
                    now = _source_text(node)
                    alias = exp.Alias(this=node.copy(), alias=exp.to_identifier(now, quoted=True))
                    node.replace(alias)
                    named.append((alias, now, written[index] if written else now))
        return named

    def _settle_names(self, named: list[tuple[exp.Alias, str, str]]) -> None:
        changed = [(alias, written) for alias, text, written in named
                   if _source_text(alias.this) != text]
        for alias, text, _ in named:
            if _source_text(alias.this) == text:
                alias.replace(alias.this)  # untouched: DuckDB names it as it always does
        duckdb_names = names.column_names([w for _, w in changed], self.catalog.run)
        for (alias, _), name in zip(changed, duckdb_names):
            alias.set("alias", exp.to_identifier(name, quoted=True))

    # --- listings and views read in place --------------------------------------------------

    def _over_query(self, tree: exp.Expr) -> exp.Expr:
        """SUMMARIZE of a video table (its columns but the pixels) or of a view over video
        tables, and DESCRIBE of such a view, as the same statement over SELECT * FROM it
        (the statement itself, or one in a FROM)."""
        for node in list(tree.find_all(exp.Summarize, exp.Describe)):
            target = node.this
            if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier) \
                    or target.args.get("db"):
                continue
            name = target.name.lower()
            if name in {v.lower() for v in self.views} or (
                    isinstance(node, exp.Summarize) and name in self.video_tables):
                node.set("this", exp.select("*").from_(target.copy()))
        return tree

    def _read_listings(self, tree: exp.Expr) -> exp.Expr:
        """(SHOW FUNCTIONS), (SHOW TABLES) and (DESCRIBE <video table>) inside a query: their
        rows, as a constant subquery."""
        for node in list(tree.find_all(d.ShowFunctions, exp.Show, exp.Describe)):
            if node is tree or not isinstance(node.parent, exp.Subquery | exp.CTE):
                continue
            listing = self._listing(node)
            if listing is not None:
                node.replace(listings.as_query(listing))
        return tree

    def _listing(self, node: exp.Expr) -> t.Any:
        if isinstance(node, d.ShowFunctions):
            return listings.functions(self.registry)
        if isinstance(node, exp.Show) and str(node.name).upper() == "TABLES" \
                and not node.args.get("from_"):
            return listings.tables(self.catalog)
        target = node.this
        if isinstance(node, exp.Describe) and isinstance(target, exp.Table) \
                and self._is_video(target):
            return listings.video_columns()
        return None  # DuckDB's own (SHOW ALL TABLES, DESCRIBE of a plain table)

    # --- tables ------------------------------------------------------------------------------

    def _is_video(self, table: exp.Table) -> bool:
        return (isinstance(table.this, exp.Identifier) and not table.args.get("db")
                and table.name.lower() in self.video_tables)

    def _video_sources(self, scope: Scope) -> dict[str, exp.Table]:
        return {alias: src for alias, src in scope.sources.items()
                if isinstance(src, exp.Table) and self._is_video(src)}

    def _check_tables(self, roots: list[exp.Query]) -> None:
        """Unknown table names are errors that suggest the closest known name."""
        known = {n.lower() for n in self.catalog.relation_names()} | set(self.video_tables)
        for root in roots:
            for scope in traverse_scope(root):
                for source in scope.sources.values():
                    if not isinstance(source, exp.Table) or source.args.get("db"):
                        continue
                    if not isinstance(source.this, exp.Identifier):
                        continue  # table functions such as range(10) or read_csv(...)
                    name = source.name
                    if name.lower() in known or any(c in name for c in "./\\"):
                        continue  # DuckDB also reads files named as tables ('data.csv')
                    candidates = sorted(known | {v.lower() for v in self.views})
                    view = source.meta.get(views.VIEW_MARK)
                    where = f"view {view!r} reads " if view else ""
                    raise CatalogError(f"{where}unknown table {name!r}"
                                       f"{suggestion(name, candidates)}",
                                       position=position_of(source.this))

    # --- steps 1 and 2: derived columns and macros -----------------------------------------

    def _expand(self, roots: list[exp.Query]) -> None:
        for _ in range(MAX_EXPANSION_ROUNDS):
            changed = False
            for root in roots:
                for scope in traverse_scope(root):
                    changed |= self._resolve_names(scope)
                changed |= self._expand_macros(root)
            if not changed:
                return
        raise BindError("function definitions expand without end (a function that uses itself?)")

    def _frame_function(self, name: str) -> MacroFunction | FrameFunction | None:
        """A function that can stand alone as a derived column: frame first, rest defaulted."""
        function = self.registry.get(name)
        if function and function.params and function.params[0].type == "frame" and all(
                not p.required for p in function.params[1:]):
            return function
        return None

    def _known_columns(self, scope: Scope) -> dict[str, set[str] | None]:
        known: dict[str, set[str] | None] = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and self._is_video(source):
                known[alias] = set(VIDEO_COLUMN_NAMES)
            elif isinstance(source, exp.Table) and isinstance(source.this, exp.Identifier):
                known[alias] = self._plain_columns(source.name)
            else:
                known[alias] = None  # a subquery, CTE or table function: DuckDB resolves it
        return known

    def _plain_columns(self, table: str) -> set[str] | None:
        """A plain table's column names, read from the catalog once per statement."""
        if table not in self._columns:
            columns = self.catalog.plain_columns(table)
            self._columns[table] = {c.lower() for c, _ in columns} if columns else None
        return self._columns[table]

    def _resolve_names(self, scope: Scope) -> bool:
        videos = self._video_sources(scope)
        if not videos:
            return False
        known = self._known_columns(scope)
        select = scope.expression
        aliases = {e.alias.lower() for e in select.selects if e.alias} if isinstance(
            select, exp.Select) else set()
        changed = False
        for col in list(scope.columns):
            if _is_lambda_var(col) or isinstance(col.this, exp.Star):
                continue
            if not col.table and col.find_ancestor(exp.Select) is not select:
                continue  # a subquery's own column (sqlglot lists it as possibly correlated)
            target = self._resolve_column(col, videos, known, aliases)
            if target is not None:
                call = exp.Anonymous(this=col.name, expressions=[exp.column("frame", target)])
                call.meta["vql_text"] = _source_text(col)  # what error messages call it
                _replace_keeping_name(col, call, col.name)
                changed = True
        return changed

    def _resolve_column(self, col: exp.Column, videos: dict[str, exp.Table],
                        known: dict[str, set[str] | None], aliases: set[str]) -> str | None:
        """The video alias whose frame a derived column reads, or None for a real column."""
        name = col.name.lower()
        if col.table:
            if col.table not in videos or name in VIDEO_COLUMN_NAMES:
                return None
            if self._frame_function(name):
                return col.table
            raise BindError(f"unknown column {col.name!r} in video table "
                            f"{videos[col.table].name!r}"
                            f"{suggestion(name, sorted(VIDEO_COLUMN_NAMES | self._derivable()))}",
                            position=position_of(col))
        if any(cols is not None and name in cols for cols in known.values()):
            return None
        if name in aliases and not _in_projection(col):
            return None  # WHERE, GROUP BY, HAVING and ORDER BY may name an output column
        if self._frame_function(name):
            if len(videos) > 1:
                raise BindError(f"{col.name!r} is ambiguous: qualify it with one of "
                                f"{', '.join(sorted(videos))}", position=position_of(col))
            return next(iter(videos))
        if any(cols is None for cols in known.values()):
            return None  # a source of unknown columns may have it; DuckDB will tell
        names = set().union(*(cols for cols in known.values() if cols)) | self._derivable()
        raise BindError(f"unknown column {col.name!r}{suggestion(name, sorted(names))}",
                        position=position_of(col))

    def _derivable(self) -> set[str]:
        return {name for name in self.registry.names() if self._frame_function(name)}

    def _expand_macros(self, root: exp.Expr) -> bool:
        changed = False
        for call in list(root.find_all(exp.Anonymous)):
            macro = self.registry.get(call.name)
            if isinstance(macro, MacroFunction):
                values = self._arguments(macro, call)
                for param in macro.params:
                    if param.sql_type:
                        values[param.name] = self._typed(macro, param, values[param.name], call)
                try:
                    expanded = macro.expand(values)
                except BindError as error:
                    if error.position is not None:
                        raise
                    raise BindError(error.message, position=position_of(call)) from None
                _replace_keeping_name(call, exp.paren(expanded, copy=False), _source_text(call))
                text = macro.notice() if macro.notice is not None else None
                if text and text not in self.notices:
                    self.notices.append(text)
                changed = True
        return changed

    def _typed(self, macro: MacroFunction, param: Param, node: exp.Expr,
               call: exp.Expr) -> exp.Expr:
        """An argument of a typed macro parameter, as DuckDB's typed macros take it: of the
        type, or implicitly castable to it (2 for a BIGINT, not '2' or 2.5 for an INTEGER).
        A constant is checked now; any other expression when the query runs (an error naming
        the function and parameter where it is not)."""
        kind = exp.DataType.build(param.sql_type, dialect="duckdb", udt=True)
        where = f"{macro.signature()}: argument {param.name!r}"
        if node.find(exp.Column, exp.Query, exp.Star, exp.AggFunc, exp.Window) is None:
            constant, values = localize_params(self._with_values(node.copy()), self.params)
            found = sqltypes.passes_as(to_sql(constant, "duckdb"), values, param.sql_type)
            if found is not None and not found[0]:
                raise BindError(f"{where} must be {param.sql_type}, not "
                                f"{_source_text(constant)} ({found[1]})",
                                position=position_of(node) or position_of(call))
            return exp.cast(node, kind)
        message = exp.DPipe(this=exp.Literal.string(f"{where} must be {param.sql_type}, not "),
                            expression=exp.Anonymous(this="typeof", expressions=[node.copy()]))
        passes = exp.Anonymous(this="can_cast_implicitly", expressions=[
            node.copy(), exp.cast(exp.null(), kind.copy())])
        return exp.case().when(passes, exp.cast(node, kind)).else_(
            exp.Anonymous(this="error", expressions=[message]))

    def _with_values(self, node: exp.Expr) -> exp.Expr:
        """``node`` with its ? parameters of plain values written as literals."""
        for marker in list(node.find_all(exp.Placeholder)):
            index = int(marker.name) if str(marker.name).isdigit() else 0
            value = self.params[index - 1] if 0 < index <= len(self.params) else ()
            if value is None or isinstance(value, bool | int | float | str):
                literal = _literal(value)
                if marker is node:
                    return literal
                marker.replace(literal)
        return node

    def _arguments(self, function: MacroFunction | FrameFunction,
                   call: exp.Anonymous) -> dict[str, exp.Expr]:
        args = list(call.expressions)
        if len(args) > len(function.params):
            raise BindError(f"{function.signature()} takes at most {len(function.params)} "
                            f"arguments, {len(args)} given", position=position_of(call))
        values: dict[str, exp.Expr] = {}
        for index, param in enumerate(function.params):
            if index < len(args):
                values[param.name] = args[index]
            elif param.default is not NO_DEFAULT:
                values[param.name] = _literal(param.default)
            else:
                raise BindError(f"{function.signature()}: argument {param.name!r} is missing",
                                position=position_of(call))
        return values

    # --- step 3: frame-function calls --------------------------------------------------------

    def _source(self, alias: str, table: exp.Table) -> _Source:
        key = id(table)
        if key not in self.sources:
            name = self.video_tables[table.name.lower()]
            self.sources[key] = _Source(alias, name, table, names.view_name(len(self.sources)))
        return self.sources[key]

    def _collect_calls(self, scope: Scope) -> None:
        videos = self._video_sources(scope)
        for alias, table in videos.items():
            self._source(alias, table)
        for col in list(scope.columns):
            if col.name.lower() != "frame" or _is_lambda_var(col):
                continue
            alias = col.table or (next(iter(videos)) if len(videos) == 1 else "")
            if not col.table and len(videos) > 1:
                raise BindError("'frame' is ambiguous: qualify it with one of "
                                f"{', '.join(sorted(videos))}", position=position_of(col))
            if alias not in videos:
                continue
            self._use_frame(col, self._source(alias, videos[alias]))

    def _use_frame(self, col: exp.Column, source: _Source) -> None:
        parent = col.parent
        if isinstance(parent, exp.Anonymous) and parent.expressions and parent.expressions[0] is col:
            function = self.registry.get(parent.name)
            if not isinstance(function, FrameFunction):
                raise BindError(f"unknown function {parent.name!r}"
                                f"{suggestion(parent.name, self.registry.names())}",
                                position=position_of(col))
            call = self._udf_call(source, function, parent)
            self._call_nodes.setdefault(call.column, (parent.copy(), source.alias))
            source.branches.setdefault((call.function, call.constants), []).append(
                [] if call.stateful else guards.branches(parent))
            column = exp.column(call.column, source.alias)
            _replace_keeping_name(parent, column, _source_text(parent))
        elif _is_projection(col):
            source.encode_frame = True
        else:
            raise BindError("'frame' can only be passed as the first argument of a frame "
                            "function, or selected", position=position_of(col))

    def _guard_calls(self, source: _Source) -> None:
        """A call needed only inside CASE branches runs only where they are reached."""
        # Unqualified names in a condition must be this table's own columns: its metadata and
        # its function columns (another table's column would be unknown to the pipeline).
        own = frozenset(VIDEO_COLUMN_NAMES | {c.column for c in source.calls.values()})
        guarded: dict[tuple[str, tuple[t.Any, ...]], str] = {}
        needs: dict[tuple[str, tuple[t.Any, ...]], frozenset[str]] = {}
        for key, occurrences in source.branches.items():
            predicate = guards.guard(occurrences)
            if predicate is None or not guards.readable(predicate, source.alias, own):
                continue
            needs[key] = frozenset(c.name for c in predicate.find_all(exp.Column)) & own
            for col in predicate.find_all(exp.Column):
                if not _is_lambda_var(col):
                    col.set("table", None)
            guarded[key] = to_sql(predicate, "duckdb")
        columns = {c.column for k, c in source.calls.items() if k in guarded}
        for key, sql in guarded.items():
            if any(name in sql for name in columns):
                continue  # its condition reads another guarded call: computed everywhere
            # Its values exist on some rows only: never cached as if they were every row's.
            source.calls[key] = dataclasses.replace(source.calls[key], when=sql,
                                                    needs=needs[key], version=None)

    def _udf_call(self, source: _Source, function: FrameFunction, node: exp.Anonymous) -> UDFCall:
        values = self._arguments(function, node)
        try:
            constants = tuple(self._resolved(function, p, self._constant(function, p,
                                                                         values[p.name]))
                              for p in function.params[1:])
            if function.check is not None:
                function.check(*constants)
        except BindError as error:
            if error.position is not None:
                raise
            raise BindError(error.message, position=position_of(node)) from None
        key = (function.name, constants)
        if key not in source.calls:
            column = names.call_column(function.name, self._calls)
            self._calls += 1
            # Declared cost, on the CPU: the device and a measured cost are physical
            # (vql.physical.annotate places each call before the optimizer reads its cost).
            source.calls[key] = UDFCall(
                function.name, constants, column, function.traits.stateful,
                function.traits.cost_ms, "declared", _version(function, constants))
        return source.calls[key]

    def _resolved(self, function: FrameFunction, param: Param, value: t.Any) -> t.Any:
        """A ``source`` argument naming another frame function, as a reference to it."""
        if param.type != "source" or not isinstance(value, str):
            return value
        fed = self.registry.get(value)
        if not isinstance(fed, FrameFunction) or fed.name == function.name:
            return value
        required = [p.name for p in fed.params[1:] if p.required]
        if required:
            raise BindError(f"{function.name}: {fed.signature()} can feed it only if its "
                            f"parameters after frame have defaults ({', '.join(required)} "
                            "has none)")
        return FunctionRef(fed.name, fed, fed.cache_version() if fed.cacheable else None)

    def _constant(self, function: FrameFunction, param: Param, node: exp.Expr) -> t.Any:
        value = self._evaluate_constant(function, param, node)
        if value is None and param.default is None:
            return None  # an optional parameter left NULL
        if param.type == "strs":
            value = (value,) if isinstance(value, str) else value
            if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
                return value
        expected = PARAM_TYPES[param.type]
        if value is None or isinstance(value, bool) and param.type != "bool" or not isinstance(
                value, expected) or param.type == "strs":
            kind = "a list of strings" if param.type == "strs" else param.type
            raise BindError(f"{function.signature()}: argument {param.name!r} must be "
                            f"{kind}, not {value!r}", position=position_of(node))
        return value

    def _evaluate_constant(self, function: FrameFunction, param: Param, node: exp.Expr) -> t.Any:
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Literal):
            if node.is_string:
                return node.this
            text = node.this
            return int(text) if text.lstrip("-").isdigit() else float(text)
        if isinstance(node, exp.Boolean):
            return bool(node.this)
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Array):
            return tuple(self._evaluate_constant(function, param, e) for e in node.expressions)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return -self._evaluate_constant(function, param, node.this)
        if isinstance(node, exp.Placeholder) and str(node.name).isdigit():
            index = int(node.name)
            if index > len(self.params):
                raise BindError(f"parameter ${index} has no value ({len(self.params)} given)")
            return self.params[index - 1]
        raise BindError(f"{function.signature()}: argument {param.name!r} must be a constant "
                        "(a literal or a ? parameter)", position=position_of(node))

    def _reject_frame_functions(self, tree: exp.Expr) -> None:
        for call in tree.find_all(exp.Anonymous):
            function = self.registry.get(call.name)
            if isinstance(function, FrameFunction | MacroFunction):
                raise BindError(f"{function.signature()} needs the frame column of a video table "
                                "as its first argument", position=position_of(call))

    # --- step 4: filters ---------------------------------------------------------------------

    def _reduce_by_keys(self, scope: Scope) -> None:
        """Semi-join reduction (vql/bind/semijoin.py): a frame key joined with, or IN, a
        plain table's column becomes a pipeline filter on the keys found there."""
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        videos = self._video_sources(scope)
        plain = {alias: src for alias, src in scope.sources.items()
                 if isinstance(src, exp.Table) and not self._is_video(src)
                 and self._plain_columns(src.name) is not None}
        for alias, table in videos.items():
            source = self._source(alias, table)
            if not source.calls and not source.encode_frame:
                continue  # nothing is decoded: nothing to spare
            found = semijoin.join_keys(select, alias, plain, self._has_column) + \
                semijoin.in_subquery_keys(
                select, alias, len(scope.sources) == 1, self._reads_plain_tables_only)
            for key, sql in found:
                predicate = semijoin.key_filter(key, self._first_column(sql))
                if predicate is not None:
                    source.filters.append((predicate, frozenset({key}), ()))

    def _has_column(self, table: str, column: str) -> bool:
        return column.lower() in (self._plain_columns(table) or set())

    def _reads_plain_tables_only(self, query: exp.Expr) -> bool:
        """A simple, uncorrelated, deterministic query: one plain table (not a CTE of that
        name), its own columns only, no LIMIT or sample (their rows could differ when the
        statement runs it again)."""
        if not isinstance(query, exp.Select) or query.args.get("joins") or query.find(
                exp.Subquery, exp.Limit, exp.TableSample, exp.Rand) is not None:
            return False
        table = query.args.get("from_") or query.args.get("from")
        source = table.this if table is not None else None
        if not isinstance(source, exp.Table) or self._is_video(source) or \
                source.args.get("db") or source.args.get("catalog"):
            return False
        withs = [w for node in [query, *_ancestors(query)]
                 if isinstance(w := node.args.get("with_"), exp.With)]
        ctes = {cte.alias.lower() for w in withs for cte in w.expressions}
        if source.name.lower() in ctes:
            return False
        columns = self._plain_columns(source.name)
        own = {source.alias_or_name.lower(), source.name.lower()}
        return columns is not None and all(
            c.name.lower() in columns and (not c.table or c.table.lower() in own)
            for c in query.find_all(exp.Column))

    def _first_column(self, sql: str) -> list[t.Any] | None:
        try:
            rows = self.catalog.run(f"SELECT * FROM ({sql}) LIMIT {semijoin.MAX_KEYS + 1}")
        except duckdb.Error:
            return None
        return [r[0] for r in rows]

    def _push_filters(self, scope: Scope) -> None:
        select = scope.expression
        if not isinstance(select, exp.Select) or not select.args.get("where"):
            return
        if any(join.side or join.kind for join in select.args.get("joins") or []):
            return  # outer, semi and anti joins: a WHERE filter is not a filter of one input
        by_alias = {s.alias: s for s in self.sources.values() if s.node.find_ancestor(
            exp.Select) is select}
        if not by_alias:
            return
        condition = select.args["where"].this
        conjuncts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
        kept = []
        for conjunct in conjuncts:
            source = self._pushable(conjunct, by_alias, single=len(scope.sources) == 1)
            if source is None:
                kept.append(conjunct)
            else:
                source.filters.append(self._filter(conjunct))
        if kept:
            select.set("where", exp.Where(this=exp.and_(*kept, copy=False)))
        else:
            select.set("where", None)

    def _pushable(self, conjunct: exp.Expr, by_alias: dict[str, _Source],
                  single: bool) -> _Source | None:
        if conjunct.find(exp.Query, exp.AggFunc, exp.Window):
            return None
        aliases = set()
        for col in conjunct.find_all(exp.Column):
            if _is_lambda_var(col):
                continue
            if col.table:
                aliases.add(col.table)
            elif single:
                aliases.add(next(iter(by_alias)))
            else:
                return None
        if len(aliases) == 1 and (alias := aliases.pop()) in by_alias:
            return by_alias[alias]
        return None

    def _filter(self, conjunct: exp.Expr) -> tuple[str, frozenset[str], tuple[t.Any, ...]]:
        """A pushed conjunct as (DuckDB SQL over the pipeline's columns, columns, parameters)."""
        predicate = conjunct.copy()
        columns = set()
        for col in predicate.find_all(exp.Column):
            if not _is_lambda_var(col):
                col.set("table", None)
                columns.add(col.name)
        predicate, values = localize_params(predicate, self.params)
        return to_sql(predicate, "duckdb"), frozenset(columns), values

    # --- step 5: stars, limits and pipelines -----------------------------------------------

    def _hide_internal_columns(self, scope: Scope) -> None:
        """``*`` and ``alias.*`` list a video table's own columns, not the function columns
        (nor ``frame``, decoded only when asked for) its pipeline adds."""
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        hidden: dict[str, list[str]] = {}
        for source in self.sources.values():
            if source.node.find_ancestor(exp.Select) is select:
                columns = [c.column for c in source.calls.values()]
                hidden[source.alias] = columns + (["frame"] if source.encode_frame else [])
        for node in select.expressions:
            if isinstance(node, exp.Star):
                excluded = [exp.column(name, alias) for alias, columns in hidden.items()
                            for name in columns]
                star = node
            elif isinstance(node, exp.Column) and isinstance(node.this, exp.Star) \
                    and node.table in hidden:
                excluded = [exp.column(name) for name in hidden[node.table]]
                star = node.this
            else:
                continue
            if excluded:
                star.set("except_", [*(star.args.get("except_") or []), *excluded])

    def _rows_needed(self, roots: list[exp.Query]) -> int | None:
        if len(roots) != 1 or len(self.sources) != 1 or not isinstance(roots[0], exp.Select):
            return None
        select = roots[0]
        source = next(iter(self.sources.values()))
        if source.node.find_ancestor(exp.Select) is not select or select.args.get("joins"):
            return None
        blocking = ("where", "group", "having", "order", "distinct", "qualify", "with_")
        if any(select.args.get(key) for key in blocking):
            return None
        if select.find(exp.AggFunc, exp.Window):
            return None
        limit = select.args.get("limit")
        offset = select.args.get("offset")
        count = _int_literal(limit.expression if limit else None)
        skip = _int_literal(offset.expression if offset else None) if offset else 0
        if count is None or skip is None or count + skip >= 2**62:
            return None  # no early stop worth making (nor a count past a C long)
        return count + skip

    def _pipeline(self, source: _Source, options: QueryOptions) -> PlanNode:
        videos = self.catalog.videos_of(source.table)
        live = self.catalog.live_source(source.table)
        node: PlanNode = VideoScan(source.table, source.alias, len(videos),
                                   sum(v.frames for v in videos),
                                   sum(v.duration for v in videos),
                                   live.url if live is not None else None,
                                   self.catalog.watched_source(source.table))
        if options.sample_fps is not None:
            node = Sample(node, options.sample_fps)
        if source.calls or source.encode_frame:
            node = Decode(node)
        # guarded calls after the others: their conditions may read them
        for call in sorted(source.calls.values(), key=lambda c: c.when is not None):
            node = ApplyUDF(node, call)
        for predicate, columns, values in source.filters:
            node = Filter(node, predicate, columns, values)
        columns = METADATA_COLUMNS + tuple(c.column for c in source.calls.values())
        columns += ("frame",) if source.encode_frame else ()
        return Project(node, source.view, columns, source.encode_frame)


def _ancestors(node: exp.Expr) -> list[exp.Expr]:
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


def _int_literal(node: exp.Expr | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return int(node.this)
    return None


def _is_projection(node: exp.Expr) -> bool:
    parent = node.parent
    if isinstance(parent, exp.Alias):
        node, parent = parent, parent.parent
    return isinstance(parent, exp.Select) and node.arg_key == "expressions"


def _in_projection(node: exp.Expr) -> bool:
    """Whether ``node`` sits inside one of its SELECT's output expressions."""
    select = node.find_ancestor(exp.Select)
    while node.parent is not None and node.parent is not select:
        node = node.parent
    return select is not None and node.arg_key == "expressions"


def _source_text(node: exp.Expr) -> str:
    return node.sql(dialect="duckdb", normalize_functions=False)


def _replace_keeping_name(node: exp.Expr, new: exp.Expr, name: str) -> None:
    """Replace ``node``; if it is an unaliased projection, alias the new node with ``name`` so
    that the output column keeps the name the user wrote."""
    if _is_projection(node) and not isinstance(node.parent, exp.Alias):
        new = exp.alias_(new, name, quoted=True)
    node.replace(new)


def _version(function: FrameFunction, constants: tuple[t.Any, ...]) -> str | None:
    """What a call's cached values are keyed by: the function's version and those of the
    functions it is fed by; None when any of them may not be cached."""
    refs = [c for c in constants if isinstance(c, FunctionRef)]
    if not function.cacheable or any(r.version is None for r in refs):
        return None
    return " + ".join([function.cache_version(), *(f"{r.name} {r.version}" for r in refs)])
