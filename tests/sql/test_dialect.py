"""The VQL dialect: golden round trips, DuckDB SQL untouched, parse errors with positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from vql.errors import ParseError
from vql.sql.dialect import CreateVideoTable, VideoQuery, VqlExplain
from vql.sql.parse import (
    is_complete,
    number_placeholders,
    parse,
    parse_one,
    split_statements,
    to_sql,
)

GOLDEN = Path(__file__).parent / "golden" / "roundtrip.sql"


def golden_cases() -> list[tuple[str, str]]:
    cases = []
    for line in GOLDEN.read_text().splitlines():
        if not line.strip() or line.startswith("--"):
            continue
        source, _, expected = line.partition("  =>  ")
        cases.append((source.strip(), (expected or source).strip()))
    return cases


@pytest.mark.parametrize(("source", "expected"), golden_cases())
def test_golden_round_trip(source: str, expected: str) -> None:
    text, _ = number_placeholders(source)
    generated = to_sql(parse_one(text))
    if "?" in source:
        expected, _ = number_placeholders(expected)
    assert generated == expected
    assert to_sql(parse_one(generated)) == generated  # generation is a fixed point


def test_video_clauses_are_one_node_around_the_query() -> None:
    tree = parse_one("SELECT a FROM room SAMPLE 2 FPS WITH LATENCY 2s AND ACCURACY 0.9")
    assert isinstance(tree, VideoQuery)
    assert tree.args["sample"].name == "2"
    assert tree.args["latency"].name == "2" and tree.args["unit"].name == "s"
    assert tree.args["accuracy"].name == "0.9"


def test_a_query_with_a_cte_keeps_the_cte_inside_the_video_clauses() -> None:
    tree = parse_one("WITH s AS (SELECT 1 AS x) SELECT x FROM s SAMPLE 2 FPS")
    assert isinstance(tree, VideoQuery) and tree.args.get("with_") is None
    assert tree.this.args["with_"] is not None


def test_load_video_is_create_video_table_with_load_flag() -> None:
    tree = parse_one("LOAD VIDEO 'a.mp4' INTO room")
    assert isinstance(tree, CreateVideoTable) and tree.args["load"]


def test_explain_wraps_the_parsed_statement() -> None:
    tree = parse_one("EXPLAIN SELECT congested FROM intersection SAMPLE 1 FPS")
    assert isinstance(tree, VqlExplain) and isinstance(tree.this, VideoQuery)


@pytest.mark.parametrize(("sql", "line", "column", "text"), [
    ("SELECT a FROM room SAMPLE 2", 1, 27, "2"),
    ("SELECT a FROM room WITH LATENCY 2 hours", 1, 35, "hours"),
    ("SELECT a FROM room\nWITH LATENCY 2s AND LATENCY 3s", 2, 29, "3"),
    ("SELECT a FROM room SAMPLE 1 FPS SAMPLE 2 FPS", 1, 40, "2"),
    ("SELECT *\nFROM room WHERE (a", 2, 18, "a"),
    ("LOAD VIDEO room INTO x", 1, 12, "room"),
    ("CREATE FUNCTION f", 1, 17, "f"),
])
def test_parse_errors_carry_line_column_and_text(sql: str, line: int, column: int,
                                                 text: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse(sql)
    error = raised.value
    assert error.position is not None
    assert (error.position.line, error.position.column) == (line, column)
    assert error.text == text
    caret_line = error.caret().splitlines()[1]
    assert caret_line.index("^") == column - 1


def test_parse_error_is_a_programming_error() -> None:
    import vql

    with pytest.raises(vql.ProgrammingError):
        parse("SELEC 1")


def test_statement_splitting_respects_quotes_and_comments() -> None:
    assert split_statements("SELECT ';'; -- a;\nSELECT 2;") == ["SELECT ';'", "-- a;\nSELECT 2"]
    assert is_complete("SELECT 1;") and not is_complete("SELECT ';'")


def test_qmark_markers_are_numbered_not_replaced() -> None:
    assert number_placeholders("SELECT ?, '?' WHERE a = ?") == ("SELECT $1, '?' WHERE a = $2", 2)


def test_a_misspelled_statement_keyword_is_pointed_at() -> None:
    """'SELEC frame_id FROM room' pointed at FROM, where the parser gave up (issue 13)."""
    import vql
    from vql.sql.parse import parse

    with pytest.raises(vql.ParseError, match=r"unknown statement 'SELEC' \(did you mean SELECT") \
            as raised:
        parse("SELEC frame_id FROM room")
    assert raised.value.position is not None
    assert (raised.value.position.column, raised.value.position.length) == (1, 5)
    with pytest.raises(vql.ParseError, match="did you mean LOAD") as second:
        parse("SELECT 1;\n  LAOD VIDEO 'x.mp4' INTO t")
    assert second.value.position is not None
    assert (second.value.position.line, second.value.position.column) == (2, 3)


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT len(x) , (a+1)*2, NOT x, CASE WHEN a THEN 1 END, -b, t.* FROM t",
     ["len(x)", "(a+1)*2", "NOT x", "CASE WHEN a THEN 1 END", "-b", "t.*"]),
    ("SELECT DISTINCT ON (a) len(x), y FROM t", ["len(x)", "y"]),
    ("SELECT 1; SELECT len(x), [1, 2][1] SAMPLE 1 FPS", ["len(x)", "[1, 2][1]"]),
    ("FROM road SELECT len(x) WHERE 1", ["len(x)"]),
])
def test_projections_as_written(sql: str, expected: list[str]) -> None:
    """Result columns are named after what was written (sqlglot prints len(x) as LENGTH(x))."""
    from sqlglot import exp

    from vql.sql.parse import SOURCE, projection_texts

    tree = parse(sql)[-1]
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    assert isinstance(select, exp.Select)
    assert projection_texts(select, tree.meta[SOURCE]) == expected
