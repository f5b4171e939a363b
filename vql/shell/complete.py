"""Tab completion in the shell: keywords, table names, column names, function names and dot
commands, from what the connection's catalog holds when Tab is pressed."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prompt_toolkit.completion import Completer, Completion

KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "HAVING", "LIMIT", "DISTINCT", "AS",
    "AND", "OR", "NOT", "IN", "IS", "NULL", "JOIN", "LEFT JOIN", "ON", "UNION", "WITH",
    "CASE", "WHEN", "THEN", "ELSE", "END", "ASC", "DESC", "BETWEEN", "LIKE", "OVER",
    "PARTITION BY", "INSERT INTO", "VALUES", "CREATE TABLE", "DROP TABLE",
    # VQL's own
    "SAMPLE", "FPS", "LATENCY", "ACCURACY", "COST", "BEST EFFORT", "LOAD VIDEO", "INTO",
    "CREATE VIDEO TABLE", "DROP VIDEO TABLE", "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION",
    "DROP FUNCTION", "SHOW TABLES", "SHOW FUNCTIONS", "DESCRIBE", "EXPLAIN", "EXPLAIN ANALYZE",
    "ANALYZE", "CLEAR CACHE", "RENDER", "RENDER TIMELINE",
)
# After these words a table name comes.
TABLE_CONTEXT = {"FROM", "JOIN", "INTO", "TABLE", "DESCRIBE", "ANALYZE", "UPDATE"}
AGGREGATES = ("count", "sum", "avg", "min", "max", "round", "floor", "coalesce", "len",
              "list_filter", "unnest", "lag", "lead", "row_number", "bool_or", "bool_and")


@dataclass(frozen=True, slots=True)
class Names:
    """What Tab completes: table, column, function and dot command names."""

    tables: tuple[str, ...]
    columns: tuple[str, ...]
    functions: tuple[str, ...]
    commands: tuple[str, ...]


def replaced(text: str) -> str:
    """The end of ``text`` a completion replaces: a dot command being typed, or a word."""
    if text.lstrip().startswith(".") and " " not in text.strip():
        return text.strip()
    match = re.search(r"[A-Za-z_][A-Za-z_0-9]*$", text)
    return match.group(0) if match else ""


def candidates(text: str, names: Names) -> list[str]:
    """Completions of the word ending ``text`` (what is left of the cursor), best first."""
    word = replaced(text)
    if word.startswith("."):
        return [c for c in names.commands if c.startswith(word)]
    before = text[:len(text) - len(word)].rstrip().split()
    previous = before[-1].upper() if before else ""
    if previous in TABLE_CONTEXT:
        pool: Iterable[str] = names.tables
    else:
        pool = (*names.columns, *names.functions, *AGGREGATES, *KEYWORDS, *names.tables)
    return list(_unique(p for p in pool if p.lower().startswith(word.lower()) and p != word))


def _unique(items: Iterable[str]) -> Iterator[str]:
    seen: set[str] = set()
    for item in items:
        if item.lower() not in seen:
            seen.add(item.lower())
            yield item


def names_of(connection: t.Any, commands: Iterable[str]) -> Names:
    """What the connection's catalog holds now."""
    from vql.catalog.schema import VIDEO_COLUMNS

    engine = connection.engine
    catalog = engine.catalog
    plain = catalog.plain_tables()
    columns = [name for name, _, _ in VIDEO_COLUMNS]
    for table in plain:
        columns.extend(name for name, _ in catalog.plain_columns(table) or ())
    functions = [f.name for f in engine.registry]
    return Names(tuple(catalog.video_tables()) + tuple(plain), tuple(columns),
                 tuple(functions), tuple(commands))


class SqlCompleter(Completer):  # type: ignore[misc]  # prompt_toolkit is untyped here
    """prompt_toolkit's completer over ``candidates``, reading the catalog on each Tab."""

    def __init__(self, connection: t.Any, commands: Iterable[str]):
        self.connection, self.commands = connection, tuple(commands)

    def get_completions(self, document: t.Any, complete_event: t.Any) -> Iterator[Completion]:
        text = document.text_before_cursor
        start = -len(replaced(text))
        for option in candidates(text, names_of(self.connection, self.commands)):
            yield Completion(option, start_position=start)
