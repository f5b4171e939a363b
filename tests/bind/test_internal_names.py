"""The names VQL makes for DuckDB (``__vql_in0``, ``__vql_detect_0``, ``_vql_d``) never reach
the user: result columns are named as DuckDB names what the user wrote, and EXPLAIN and error
messages speak of the calls the user wrote."""

from __future__ import annotations

import duckdb
import pytest

import vql
from vql.bind.names import column_names, user_facing

INTERNAL = ("__vql_", "_vql_d")

EXPRESSIONS = [
    "detect(frame)",
    "detect(frame)[1].label",
    "len(detect(frame))",
    "brightness * 2",
    "brightness(frame) > 0.5",
    "count_objects(frame, 'person') + 1",
    "has_object(frame, 'car') AND frame_id > 1",
    "CASE WHEN frame_id < 2 THEN brightness END",
    "list_transform(detect(frame), lambda d: d.score)",
    "COUNT(*) FILTER (WHERE brightness > 0.4)",
]


def _duckdb_names(expressions: list[str]) -> list[str]:
    """What plain DuckDB names the same expressions, with stand-ins for VQL's functions."""
    con = duckdb.connect()
    con.execute("CREATE TABLE intersection AS SELECT 1 AS frame_id, 0.5 AS brightness, "
                "'x'::BLOB AS frame")
    con.execute("CREATE MACRO detect(f) AS [{'label': 'car', 'score': 0.9}]")
    con.execute("CREATE MACRO brightness(f) AS 0.5")
    con.execute("CREATE MACRO count_objects(f, label) AS 1")
    con.execute("CREATE MACRO has_object(f, label) AS true")
    names = []
    for expression in expressions:
        con.execute(f"SELECT {expression} FROM intersection GROUP BY ALL"
                    if "COUNT" in expression else f"SELECT {expression} FROM intersection")
        names.append(con.description[0][0])
    return names


def test_result_columns_are_named_as_duckdb_names_them(road: vql.Connection) -> None:
    select = ", ".join(EXPRESSIONS[:-1])
    cur = road.execute(f"SELECT {select} FROM intersection LIMIT 2")
    names = [d[0] for d in cur.description or ()]
    assert names == _duckdb_names(EXPRESSIONS[:-1])
    assert names[1] == '(detect(frame)[1])."label"' and names[3] == "(brightness * 2)"
    assert len(cur.fetchall()) == 2
    aggregate = road.execute(f"SELECT {EXPRESSIONS[-1]} FROM intersection WHERE frame_id < 3")
    assert [d[0] for d in aggregate.description or ()] == _duckdb_names(EXPRESSIONS[-1:])
    assert aggregate.fetchall() == [(3,)]


def test_a_subquery_column_is_read_by_that_name(road: vql.Connection) -> None:
    rows = road.execute('SELECT "(brightness * 2)" > 0 FROM (SELECT brightness * 2 '
                        "FROM intersection LIMIT 2)").fetchall()
    assert rows == [(True,), (True,)]


@pytest.mark.parametrize("sql", [
    "SELECT intersection.*, brightness FROM intersection LIMIT 1",
    "SELECT * FROM intersection a JOIN intersection b USING (frame_id) "
    "WHERE a.brightness > 0.3 AND a.frame_id < 2",
    "SELECT *, detect(frame) FROM intersection LIMIT 1",
])
def test_stars_list_no_internal_columns(road: vql.Connection, sql: str) -> None:
    names = [d[0] for d in road.execute(sql).description or ()]
    assert not [n for n in names if n.startswith(INTERNAL)], names
    assert "frame_id" in names


@pytest.mark.parametrize(("sql", "fragment"), [
    ("SELECT brightness FROM intersection GROUP BY frame_id",
     'column "brightness" must appear in the GROUP BY clause'),
    ("SELECT detect(frame) FROM intersection GROUP BY frame_id",
     "column detect(frame) must appear in the GROUP BY clause"),
    ("SELECT a.brightness FROM intersection a JOIN intersection b "
     "ON a.frame_id = b.frame_id GROUP BY a.frame_id", "column a.brightness must appear"),
    ("SELECT brightness::INTEGER[] FROM intersection LIMIT 1", "source column brightness"),
])
def test_errors_name_what_the_user_wrote(road: vql.Connection, sql: str, fragment: str) -> None:
    with pytest.raises(vql.Error) as raised:
        road.execute(sql).fetchall()
    message = str(raised.value)
    assert fragment in message
    assert not any(name in message for name in INTERNAL), message


def test_explain_shows_no_internal_names(road: vql.Connection) -> None:
    text = "\n".join(r[0] for r in road.execute(
        "EXPLAIN SELECT frame_id, count_objects(frame, 'car') FROM intersection "
        "WHERE has_object(frame, 'person') AND brightness > 0.1 LIMIT 1"))
    assert not any(name in text for name in INTERNAL), text
    assert "ApplyUDF detect(frame, 'fastestdet') -> detect(frame, 'fastestdet')" in text
    assert "FROM intersection AS intersection" in text


def test_user_facing_without_the_statement_names_a_readable_stand_in() -> None:
    message = ('Referenced column "__vql_detect_3" not found; candidates: '
               '"r1".__vql_brightness_0, __vql_in1, list_filter(x, lambda _vql_d: _vql_d.a)')
    assert user_facing(message) == (
        "Referenced column detect(frame) not found; candidates: brightness(r1.frame), "
        "the video table, list_filter(x, lambda d: d.a)")
    assert user_facing("GROUP BY \"__vql_brightness_0\"", {
        "__vql_brightness_0": "brightness"}) == 'GROUP BY "brightness"'


def test_column_names_are_duckdbs() -> None:
    con = duckdb.connect()
    assert column_names(["k+1", "COUNT(x)", "detect(frame)[1].label", "1 +"],
                        lambda sql, params: con.execute(sql, params).fetchall()) == [
        "(k + 1)", "count(x)", '(detect(frame)[1])."label"', "1 +"]
