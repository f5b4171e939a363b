"""The "vql" sqlglot dialect: DuckDB's SQL plus VQL's video statements and clauses.

All sqlglot subclassing lives in this module (STYLE.md: one documented extension point).
The added syntax:

    CREATE VIDEO TABLE name FROM 'path-or-glob'
    LOAD VIDEO 'path-or-glob' INTO name
    DROP VIDEO TABLE [IF EXISTS] name
    CREATE [OR REPLACE] FUNCTION name FROM 'file.py'
    CREATE [OR REPLACE] FUNCTION name [(param [type], ...)] AS <expression>
    DROP FUNCTION [IF EXISTS] name
    SHOW FUNCTIONS
    CLEAR CACHE [function]
    RENDER [TIMELINE] 'file' [OVERWRITE] AS <query>
    EXPLAIN [ANALYZE] <statement>
    <query> [SAMPLE <n> FPS] [WITH LATENCY <n>(ms|s|min) [AND ACCURACY <a>] [AND COST <usd>]
             [BEST EFFORT]]
    SUMMARIZE <query or table> [SAMPLE <n> FPS]
    CREATE TABLE ... AS <query> / INSERT INTO ... <query>, the query ending in those clauses
    ... FROM (SHOW FUNCTIONS) / (SHOW TABLES): the listings as subqueries

Everything else is parsed by sqlglot's DuckDB dialect; statements sqlglot does not model are
kept as raw commands and handed to DuckDB unchanged.
"""

from __future__ import annotations

import typing as t

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.generators.duckdb import DuckDBGenerator
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.tokens import TokenType

# --- syntax tree nodes ---------------------------------------------------------------------


class CreateVideoTable(exp.Expression):
    """CREATE VIDEO TABLE name FROM 'src' [WATCH], or (load=True) LOAD VIDEO 'src' INTO name."""

    arg_types = {"this": True, "source": True, "load": False, "watch": False}


class DropVideoTable(exp.Expression):
    """DROP VIDEO TABLE [IF EXISTS] name."""

    arg_types = {"this": True, "exists": False}


class CreateVqlFunction(exp.Expression):
    """CREATE FUNCTION name FROM 'file.py' (source) or name [(params)] AS expr (expression).

    ``params``: identifiers, or ``exp.ColumnDef`` (name and DuckDB type) for typed ones."""

    arg_types = {"this": True, "params": False, "expression": False, "source": False,
                 "replace": False}


class DropVqlFunction(exp.Expression):
    """DROP FUNCTION [IF EXISTS] name."""

    arg_types = {"this": True, "exists": False}


class ShowFunctions(exp.Expression):
    """SHOW FUNCTIONS, also as a subquery: ... FROM (SHOW FUNCTIONS)."""

    arg_types: t.ClassVar[dict[str, bool]] = {}


class ClearCache(exp.Expression):
    """CLEAR CACHE [function]: drop cached function values (all, or one function's)."""

    arg_types = {"this": False}


class RenderQuery(exp.Expression):
    """RENDER 'clip.mp4' AS <query> (annotated frames) or RENDER TIMELINE 'plot.png' AS <query>."""

    arg_types = {"this": True, "target": True, "timeline": False, "overwrite": False}


class VqlExplain(exp.Expression):
    """EXPLAIN [ANALYZE] <statement>, the statement parsed (VQL's own included)."""

    arg_types = {"this": True, "analyze": False}


class VideoQuery(exp.Expression):
    """A query followed by VQL's clauses; the binder lifts them into ``QueryOptions``.

    ``sample`` is the FPS literal; ``latency`` a literal with ``unit`` (ms, s or min);
    ``accuracy`` and ``cost`` literals.
    """

    arg_types = {"this": True, "sample": False, "latency": False, "unit": False,
                 "accuracy": False, "cost": False, "best_effort": False,
                 "with_": False}  # only while parsing: moved into the query (see the parser)


LATENCY_UNITS: dict[str, float] = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0}


# --- parser --------------------------------------------------------------------------------


class VqlParser(DuckDBParser):
    """DuckDB's parser with VQL statements tried first and VQL clauses after a query."""

    # Leading words -> parse method. Longest prefixes first so that "CREATE OR REPLACE
    # FUNCTION" is not taken for DuckDB's CREATE OR REPLACE.
    VQL_STATEMENTS: t.ClassVar[tuple[tuple[tuple[str, ...], str], ...]] = (
        (("CREATE", "OR", "REPLACE", "FUNCTION"), "_parse_vql_create_function_replace"),
        (("CREATE", "VIDEO", "TABLE"), "_parse_vql_create_video_table"),
        (("CREATE", "FUNCTION"), "_parse_vql_create_function"),
        (("LOAD", "VIDEO"), "_parse_vql_load_video"),
        (("DROP", "VIDEO", "TABLE"), "_parse_vql_drop_video_table"),
        (("DROP", "FUNCTION"), "_parse_vql_drop_function"),
        (("SHOW", "FUNCTIONS"), "_parse_vql_show_functions"),
        (("CLEAR", "CACHE"), "_parse_vql_clear_cache"),
        (("RENDER",), "_parse_vql_render"),
        (("EXPLAIN",), "_parse_vql_explain"),
    )

    def _parse_statement(self) -> exp.Expr | None:
        if not self._curr:
            return None
        for words, method in self.VQL_STATEMENTS:
            start = self._curr
            if self._match_text_seq(*words):
                node = getattr(self, method)()
                node.update_positions(start)
                return node
        statement = super()._parse_statement()
        if statement is not None and _reads_query(statement) and self._at_video_clause():
            return self._parse_video_clauses(statement)
        inner = statement.args.get("expression") if isinstance(
            statement, exp.Create | exp.Insert) else None
        if statement is not None and isinstance(inner, VideoQuery):  # ... AS <q> SAMPLE 1 FPS
            statement.set("expression", inner.this)
            inner.set("this", statement)
            return inner
        return statement

    # The query of CREATE TABLE ... AS and INSERT may end in VQL's clauses too; the statement
    # above lifts them to the whole statement.
    def _parse_ddl_select(self) -> exp.Expr | None:
        query = super()._parse_ddl_select()
        if query is not None and self._at_video_clause():
            return self._parse_video_clauses(query)
        return query

    # "(SHOW FUNCTIONS)" and "(SHOW TABLES)" in FROM are the listings, not a table named SHOW.
    def _parse_wrapped_select(self, table: bool = False) -> exp.Expr | None:
        if self._curr and self._curr.token_type == TokenType.SHOW:
            self._advance()
            if self._match_text_seq("FUNCTIONS"):
                return ShowFunctions()
            return self._parse_show()
        return super()._parse_wrapped_select(table)

    # "WITH cte AS (...) SELECT ... SAMPLE 1 FPS": sqlglot parses the CTE, then the statement
    # (which comes back as a VideoQuery), then attaches the CTE to it; it belongs to the query.
    def _parse_select_query(self, *args: t.Any, **kwargs: t.Any) -> exp.Expr | None:
        query = super()._parse_select_query(*args, **kwargs)
        if isinstance(query, VideoQuery) and query.args.get("with_") is not None:
            query.this.set("with_", query.args["with_"])
            query.set("with_", None)
        return query

    # A table alias must not swallow the start of a VQL clause: in "FROM room SAMPLE 1 FPS",
    # SAMPLE is a clause, not an alias for room.
    def _parse_table_alias(
        self, alias_tokens: t.Collection[TokenType] | None = None
    ) -> exp.TableAlias | None:
        if self._at_video_clause():
            return None
        return super()._parse_table_alias(alias_tokens)

    def _parse_alias(self, this: exp.Expr | None, explicit: bool = False) -> exp.Expr | None:
        if self._at_video_clause():  # "SELECT 1 SAMPLE 1 FPS": no alias named SAMPLE
            return this
        return super()._parse_alias(this, explicit)

    def _at_video_clause(self) -> bool:
        if not self._curr:
            return False
        word = self._curr.text.upper()
        following = self._next.text.upper() if self._next else ""
        if word == "SAMPLE" and self._next and self._next.token_type == TokenType.NUMBER:
            return True
        return word == "WITH" and following in {"LATENCY", "ACCURACY", "COST"}

    def _parse_video_clauses(self, query: exp.Expr) -> exp.Expr:
        node = VideoQuery(this=query)
        while self._curr and self._at_video_clause():
            if self._match_text_seq("SAMPLE"):
                self._set_once(node, "sample", self._parse_vql_number("SAMPLE"))
                if not self._match_text_seq("FPS"):
                    self.raise_error("Expected FPS after SAMPLE <n>")
            elif self._match(TokenType.WITH):
                self._parse_vql_target(node)
                while self._match(TokenType.AND):
                    self._parse_vql_target(node)
                if self._match_text_seq("BEST", "EFFORT"):
                    node.set("best_effort", exp.true())
        if self._curr and self._curr.token_type != TokenType.SEMICOLON:
            self.raise_error(f"Unexpected {self._curr.text!r} after the query")
        return node

    def _parse_vql_target(self, node: VideoQuery) -> None:
        if self._match_text_seq("LATENCY"):
            self._set_once(node, "latency", self._parse_vql_number("LATENCY"))
            unit = self._curr.text.lower() if self._curr else ""
            if unit not in LATENCY_UNITS:
                self.raise_error("Expected a latency unit: ms, s or min")
            self._advance()
            node.set("unit", exp.var(unit))
        elif self._match_text_seq("ACCURACY"):
            self._set_once(node, "accuracy", self._parse_vql_number("ACCURACY"))
        elif self._match_text_seq("COST"):
            self._set_once(node, "cost", self._parse_vql_number("COST"))
        else:
            self.raise_error("Expected LATENCY, ACCURACY or COST")

    def _set_once(self, node: exp.Expression, key: str, value: exp.Expr) -> None:
        if node.args.get(key) is not None:
            self.raise_error(f"{key.upper()} is given twice", self._prev)
        node.set(key, value)

    def _parse_vql_number(self, clause: str) -> exp.Expr:
        if not self._match(TokenType.NUMBER):
            self.raise_error(f"Expected a number after {clause}")
        return exp.Literal.number(self._prev.text)

    def _parse_vql_source(self) -> exp.Expr:
        source = self._parse_string() or self._parse_placeholder()
        if source is None:
            self.raise_error("Expected a quoted path or glob, or a ? parameter")
        return t.cast(exp.Expr, source)

    def _parse_vql_name(self) -> exp.Expr:
        name = self._parse_table_parts()
        if name is None:
            self.raise_error("Expected a name")
        return t.cast(exp.Expr, name)

    def _parse_vql_create_video_table(self) -> exp.Expr:
        name = self._parse_vql_name()
        if not self._match(TokenType.FROM):
            self.raise_error("Expected FROM 'path-or-glob'")
        source = self._parse_vql_source()
        return CreateVideoTable(this=name, source=source, watch=self._match_text_seq("WATCH"))

    def _parse_vql_load_video(self) -> exp.Expr:
        source = self._parse_vql_source()
        if not self._match(TokenType.INTO):
            self.raise_error("Expected INTO <video table>")
        return CreateVideoTable(this=self._parse_vql_name(), source=source, load=True)

    def _parse_vql_drop_video_table(self) -> exp.Expr:
        exists = self._match_text_seq("IF", "EXISTS")
        return DropVideoTable(this=self._parse_vql_name(), exists=exists)

    def _parse_vql_create_function_replace(self) -> exp.Expr:
        return self._parse_vql_create_function(replace=True)

    def _parse_vql_create_function(self, replace: bool = False) -> exp.Expr:
        name = self._parse_id_var()
        if name is None:
            self.raise_error("Expected a function name")
        params = None
        if self._match(TokenType.L_PAREN):
            params = self._parse_csv(self._parse_vql_param)
            if not self._match(TokenType.R_PAREN):
                self.raise_error("Expected ) after the parameter list")
        if self._match(TokenType.FROM):
            if params is not None:
                self.raise_error("CREATE FUNCTION ... FROM 'file.py' takes no parameter list")
            return CreateVqlFunction(this=name, source=self._parse_vql_source(), replace=replace)
        if not self._match(TokenType.ALIAS):
            self.raise_error("Expected FROM 'file.py' or AS <expression>")
        body = self._parse_assignment()
        if body is None:
            self.raise_error("Expected an expression after AS")
        return CreateVqlFunction(this=name, params=params, expression=body, replace=replace)

    def _parse_vql_param(self) -> exp.Expr | None:
        """A macro parameter: a name, optionally followed by a DuckDB type (k INTEGER)."""
        name = self._parse_id_var()
        if name is None or not self._curr or self._curr.token_type in (
                TokenType.COMMA, TokenType.R_PAREN):
            return name
        kind = self._parse_types(schema=True)
        if kind is None:
            self.raise_error("Expected a type (such as INTEGER or VARCHAR), ',' or ')' after "
                             "the parameter name")
        return exp.ColumnDef(this=name, kind=kind)

    def _parse_vql_drop_function(self) -> exp.Expr:
        exists = self._match_text_seq("IF", "EXISTS")
        name = self._parse_id_var()
        if name is None:
            self.raise_error("Expected a function name")
        return DropVqlFunction(this=name, exists=exists)

    def _parse_vql_show_functions(self) -> exp.Expr:
        return ShowFunctions()

    def _parse_vql_clear_cache(self) -> exp.Expr:
        return ClearCache(this=self._parse_id_var() if self._curr else None)

    def _parse_vql_render(self) -> exp.Expr:
        timeline = self._match_text_seq("TIMELINE")
        target = self._parse_string()
        if target is None:
            self.raise_error("Expected RENDER [TIMELINE] 'file' [OVERWRITE] AS <query>")
        overwrite = self._match_text_seq("OVERWRITE")
        if not self._match(TokenType.ALIAS):
            self.raise_error("Expected AS <query> after the file name")
        query = self._parse_statement()
        if not isinstance(query, exp.Query | VideoQuery):
            self.raise_error("RENDER ... AS takes a query (SELECT ...)")
        return RenderQuery(this=query, target=target, timeline=timeline, overwrite=overwrite)

    def _parse_vql_explain(self) -> exp.Expr:
        analyze = self._match_text_seq("ANALYZE")
        inner = self._parse_statement()
        if inner is None:
            self.raise_error("Expected a statement after EXPLAIN")
        return VqlExplain(this=inner, analyze=analyze)


def _reads_query(statement: exp.Expr) -> bool:
    """A query, or SUMMARIZE: VQL's clauses (SAMPLE) may follow it."""
    return isinstance(statement, exp.Query | exp.Summarize)


# --- generator -----------------------------------------------------------------------------


def _create_video_table_sql(gen: DuckDBGenerator, e: CreateVideoTable) -> str:
    name, source = gen.sql(e, "this"), gen.sql(e, "source")
    if e.args.get("load"):
        return f"LOAD VIDEO {source} INTO {name}"
    watch = " WATCH" if e.args.get("watch") else ""
    return f"CREATE VIDEO TABLE {name} FROM {source}{watch}"


def _drop_video_table_sql(gen: DuckDBGenerator, e: DropVideoTable) -> str:
    exists = "IF EXISTS " if e.args.get("exists") else ""
    return f"DROP VIDEO TABLE {exists}{gen.sql(e, 'this')}"


def _create_function_sql(gen: DuckDBGenerator, e: CreateVqlFunction) -> str:
    head = "CREATE OR REPLACE FUNCTION" if e.args.get("replace") else "CREATE FUNCTION"
    name = gen.sql(e, "this")
    if e.args.get("source"):
        return f"{head} {name} FROM {gen.sql(e, 'source')}"
    params = e.args.get("params")
    plist = f"({', '.join(gen.sql(p) for p in params)})" if params is not None else ""
    return f"{head} {name}{plist} AS {gen.sql(e, 'expression')}"


def _drop_function_sql(gen: DuckDBGenerator, e: DropVqlFunction) -> str:
    exists = "IF EXISTS " if e.args.get("exists") else ""
    return f"DROP FUNCTION {exists}{gen.sql(e, 'this')}"


def _clear_cache_sql(gen: DuckDBGenerator, e: ClearCache) -> str:
    return f"CLEAR CACHE {gen.sql(e, 'this')}".rstrip()


def _render_sql(gen: DuckDBGenerator, e: RenderQuery) -> str:
    timeline = "TIMELINE " if e.args.get("timeline") else ""
    overwrite = " OVERWRITE" if e.args.get("overwrite") else ""
    return f"RENDER {timeline}{gen.sql(e, 'target')}{overwrite} AS {gen.sql(e, 'this')}"


def _explain_sql(gen: DuckDBGenerator, e: VqlExplain) -> str:
    analyze = "ANALYZE " if e.args.get("analyze") else ""
    return f"EXPLAIN {analyze}{gen.sql(e, 'this')}"


def _video_query_sql(gen: DuckDBGenerator, e: VideoQuery) -> str:
    parts = [gen.sql(e, "this")]
    if e.args.get("sample") is not None:
        parts.append(f"SAMPLE {gen.sql(e, 'sample')} FPS")
    targets = []
    if e.args.get("latency") is not None:
        targets.append(f"LATENCY {gen.sql(e, 'latency')}{gen.sql(e, 'unit')}")
    if e.args.get("accuracy") is not None:
        targets.append(f"ACCURACY {gen.sql(e, 'accuracy')}")
    if e.args.get("cost") is not None:
        targets.append(f"COST {gen.sql(e, 'cost')}")
    if targets:
        parts.append("WITH " + " AND ".join(targets))
        if e.args.get("best_effort"):
            parts.append("BEST EFFORT")
    return " ".join(parts)


class VqlGenerator(DuckDBGenerator):
    """DuckDB's SQL generator, plus VQL's statements and clauses."""

    TRANSFORMS = {
        **DuckDBGenerator.TRANSFORMS,
        CreateVideoTable: _create_video_table_sql,
        DropVideoTable: _drop_video_table_sql,
        CreateVqlFunction: _create_function_sql,
        DropVqlFunction: _drop_function_sql,
        ShowFunctions: lambda _gen, _e: "SHOW FUNCTIONS",
        VqlExplain: _explain_sql,
        ClearCache: _clear_cache_sql,
        RenderQuery: _render_sql,
        VideoQuery: _video_query_sql,
    }


class VqlTokenizer(DuckDB.Tokenizer):
    """DuckDB's tokenizer, except that EXPLAIN does not turn the rest into raw text."""

    # DuckDB's tokenizer turns everything after EXPLAIN into one raw string; VQL parses the
    # explained statement, so EXPLAIN is an ordinary word here.
    KEYWORDS = {k: v for k, v in DuckDB.Tokenizer.KEYWORDS.items() if k != "EXPLAIN"}


class VQL(DuckDB):
    """The dialect; registered with sqlglot under the name "vql"."""

    Tokenizer = VqlTokenizer
    Parser = VqlParser
    Generator = VqlGenerator
