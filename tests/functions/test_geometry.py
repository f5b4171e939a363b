"""The geometry functions of tracks (issue 15) through SQL on a plain DuckDB connection:
inside, crossings, dwell and entered, their NULLs, polygon types, many rows and errors."""

from __future__ import annotations

import random
import typing as t
from fractions import Fraction
from pathlib import Path

import duckdb
import pytest

from vql.functions.geometry import FUNCTIONS, register

SQUARE = "[[0,0],[400,0],[400,432],[0,432]]"
# An L: the square 0..100 less its top-right quarter (y down: the notch is at x>40, y>40).
ELL = "[[0,0],[100,0],[100,40],[40,40],[40,100],[0,100]]"
BOX = "[[0,0],[100,0],[100,100],[0,100]]"


@pytest.fixture(scope="module")
def con() -> t.Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    register(connection)
    yield connection
    connection.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> t.Any:
    rows = con.execute(sql).fetchall()
    assert len(rows) == 1
    return rows[0][0]


def path(*points: tuple[float, float, float]) -> str:
    """A path literal from (ts, x, y) points."""
    if not points:
        return "[]"
    return "[" + ", ".join(f"{{'ts': {ts}, 'x': {x}, 'y': {y}}}" for ts, x, y in points) + "]"


def down(x: float, *ys: float) -> str:
    """A path at ``x`` through the ``ys`` in turn, one second apart."""
    return path(*((float(i), x, y) for i, y in enumerate(ys)))


@pytest.mark.parametrize(("x", "y", "polygon", "expected"), [
    (200, 200, SQUARE, True),
    (500, 200, SQUARE, False),
    (200, -1, SQUARE, False),
    (400, 100, SQUARE, True),        # on an edge
    (0, 0, SQUARE, True),            # on a corner
    (400.001, 100, SQUARE, False),
    (20, 80, ELL, True),
    (80, 20, ELL, True),
    (80, 80, ELL, False),            # in the notch of the concave polygon
    (40, 70, ELL, True),             # on the notch's edge
    (1, 1, "[[0,0],[4,0],[0,4]]", True),
    (3, 3, "[[0,0],[4,0],[0,4]]", False),
    (1, 1, "[[0,0],[4,0],[0,4],[0,0]]", True),   # the ring closed by hand
    (0.6, 0.6, "[[0.5,0.5],[10.5,0.5],[10.5,10.5],[0.5,10.5]]", True),   # DECIMAL
    (0.4, 5, "[[0.5,0.5],[10.5,0.5],[10.5,10.5],[0.5,10.5]]", False),
    (1.5, 1.0, "[[0,0],[2,2],[2,0],[0,2]]", True),   # a bow tie: even-odd
    (0.5, 1.8, "[[0,0],[2,2],[2,0],[0,2]]", False),
])
def test_inside(con: duckdb.DuckDBPyConnection, x: float, y: float, polygon: str,
                expected: bool) -> None:
    assert one(con, f"SELECT inside({x}, {y}, {polygon})") is expected


@pytest.mark.parametrize("polygon", [
    "[[0,0],[10,0],[10,10],[0,10]]",                       # INTEGER[][]
    "[[0.0,0.0],[10.0,0.0],[10.0,10.0],[0.0,10.0]]",       # DECIMAL(3,1)[][]
    "[[0,0],[1e1,0],[10,10],[0,10]]",                      # DOUBLE[][]
    "[[0,0],[10,0],[10,10],[0,10]]::BIGINT[][]",
    "[[0,0],[10,0],[10,10],[0,10]]::FLOAT[][]",
    "[[0,0],[10,0],[10,10],[0,10]]::DOUBLE[2][]",          # fixed-size pairs
    "[[0,0],[10,0],[10,10],[0,10]]::DOUBLE[2][4]",
])
def test_polygon_types(con: duckdb.DuckDBPyConnection, polygon: str) -> None:
    assert one(con, f"SELECT [inside(5, 5, {polygon}), inside(11, 5, {polygon})]") == [True, False]


def test_polygon_from_a_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE zones AS SELECT * FROM (VALUES "
            "('left', [[0,0],[50,0],[50,100],[0,100]]), "
            "('right', [[50,0],[100,0],[100,100],[50,100]]))"
            " t(name, area)")
    rows = con.execute("SELECT name FROM zones WHERE inside(75, 10, area)").fetchall()
    assert rows == [("right",)]
    rows = con.execute("SELECT name FROM zones WHERE inside(50, 10, area) ORDER BY name").fetchall()
    assert rows == [("left",), ("right",)]   # on the shared edge: inside both


def test_inside_nulls(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, f"SELECT inside(NULL, 1, {SQUARE})") is None
    assert one(con, f"SELECT inside(1, NULL, {SQUARE})") is None
    assert one(con, "SELECT inside(1, 1, NULL)") is None
    rows = con.execute(f"SELECT inside(x, 1, {SQUARE}) FROM (VALUES (1), (NULL), (500)) t(x)"
                       ).fetchall()
    assert rows == [(True,), (None,), (False,)]


def test_inside_many_rows(con: duckdb.DuckDBPyConnection) -> None:
    # One polygon for all rows, 100 x 100 grid points: the points with 10 <= x, y <= 20.
    count = one(con, "SELECT count(*) FILTER (WHERE inside(i % 100, i // 100, "
                     "[[10,10],[20,10],[20,20],[10,20]])) FROM range(10000) t(i)")
    assert count == 11 * 11
    # A different polygon on every row: the square of side s holds (5, 5) from s = 5 on.
    rows = con.execute("SELECT s, inside(5, 5, [[0,0],[s,0],[s,s],[0,s]]) FROM range(1, 5001) t(s) "
                   "ORDER BY s").fetchall()
    assert [r[0] for r in rows if r[1]] == list(range(5, 5001))
    assert [r[1] for r in rows].count(None) == 0


LINE = "0, 100, 100, 100"   # from (0, 100) to (100, 100): drawn left to right


@pytest.mark.parametrize(("path_sql", "line", "expected"), [
    (down(50, 50, 150), LINE, 1),                 # downwards on screen: left to right of the line
    (down(50, 150, 50), LINE, -1),                # upwards
    (down(50, 50, 150, 50), LINE, 0),             # across and back
    (down(50, 50, 150, 50, 150), LINE, 1),
    (down(50, 50, 100, 50), LINE, 0),             # touches the line and turns back
    (down(50, 50, 100, 100, 150), LINE, 1),       # stops on the line, then goes on across
    (down(50, 50, 100, 100, 50), LINE, 0),
    (down(150, 50, 150), LINE, 0),                # across the line beyond the segment's end
    (down(-1, 50, 150), LINE, 0),
    (down(100, 50, 150), LINE, 1),                # through an end of the segment
    (down(0, 150, 50), LINE, -1),
    (path((0, 0, 0), (1, 60, 200)), LINE, 1),     # a slanted step across, at x = 30
    (path((0, 150, 50), (1, 150, 150), (2, 50, 150), (3, 50, 50)), LINE, -1),
    (path((0, 50, 50), (1, 50, 100), (2, 150, 100), (3, 150, 150)), LINE, 1),   # slides off
    (path((0, 150, 50), (1, 150, 100), (2, 50, 100), (3, 50, 150)), LINE, 1),   # slides on
    (path((0, 150, 50), (1, 150, 100), (2, 200, 100), (3, 200, 150)), LINE, 0),
    (down(50, 50, 150), "100, 100, 0, 100", -1),  # the same step, the line drawn the other way
    (path((0, 150, 50), (1, 50, 50)), "100, 0, 100, 400", 1),   # a vertical line drawn down
    (path((0, 50, 50), (1, 150, 50)), "100, 0, 100, 400", -1),
    (path((0, 150, 50), (1, 50, 50)), "100, 400, 100, 0", -1),
    (path((0, 150, 500), (1, 50, 500)), "100, 0, 100, 400", 0),
    (path((0, 0, 0), (1, 10, 10)), "0, 10, 10, 0", 1),          # a diagonal line
    (down(50, 50), LINE, 0),                      # one point
    (down(50, 100), LINE, 0),                     # one point, on the line
    (path(), LINE, 0),
])
def test_crossings(con: duckdb.DuckDBPyConnection, path_sql: str, line: str,
                   expected: int) -> None:
    assert one(con, f"SELECT crossings({path_sql}, {line})") == expected


def test_crossings_nulls_and_type(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, f"SELECT crossings(NULL, {LINE})") is None
    assert one(con, f"SELECT crossings({down(50, 50, 150)}, 0, NULL, 100, 100)") is None
    assert one(con, f"SELECT typeof(crossings({down(50, 50, 150)}, {LINE}))") == "INTEGER"


def test_crossings_many_rows(con: duckdb.DuckDBPyConnection) -> None:
    # Paths straight down at x = -50 .. 149: those at 0 <= x <= 100 cross, once each.
    total = one(con, "SELECT sum(crossings([{'ts': 0, 'x': i, 'y': 50}, "
                     "{'ts': 1, 'x': i, 'y': 150}, {'ts': 2, 'x': i, 'y': 150 + i % 2}], "
                     f"{LINE})) FROM range(-50, 150) t(i)")
    assert total == 101
    # Each row its own line: the row's path crosses the lines at y = 0 .. 99 once, down.
    rows = con.execute(f"SELECT y, crossings({down(50, -1, 50, 99.5)}, 0, y, 100, y) "
                       "FROM range(200) t(y) ORDER BY y").fetchall()
    assert [r[1] for r in rows] == [1] * 100 + [0] * 100


TRACK = path((0, -10, 50), (1, 10, 50), (2, 50, 50), (3.5, 150, 50), (4, 50, 50))


@pytest.mark.parametrize(("path_sql", "seconds", "first"), [
    (TRACK, 2.5, 1.0),
    (path((0, -10, 50), (1, 150, 50)), 0.0, None),        # never inside
    (path(), 0.0, None),
    (path((7, 50, 50)), 0.0, 7.0),                         # one point, inside: no time
    (path((0, 50, 50), (2, 50, 60), (3, 50, 70)), 3.0, 0.0),
    (path((0, 0, 50), (1, -1, 50), (3, 100, 100)), 1.0, 0.0),   # on the boundary counts
    (path((0, -5, 50), (0.5, 50, 50), (0.5, 150, 50)), 0.0, 0.5),   # a step of no time
])
def test_dwell_and_entered(con: duckdb.DuckDBPyConnection, path_sql: str, seconds: float,
                           first: float | None) -> None:
    assert one(con, f"SELECT dwell({path_sql}, {BOX})") == pytest.approx(seconds)
    assert one(con, f"SELECT entered({path_sql}, {BOX})") == first


def test_dwell_and_entered_nulls(con: duckdb.DuckDBPyConnection) -> None:
    for function in ("dwell", "entered"):
        assert one(con, f"SELECT {function}(NULL, {BOX})") is None
        assert one(con, f"SELECT {function}({TRACK}, NULL)") is None
    rows = con.execute(f"SELECT dwell(p, {BOX}), entered(p, {BOX}) FROM (VALUES ({TRACK}), (NULL), "
                   f"({path()}), ({path((3, 1, 1))})) t(p)").fetchall()
    assert rows == [(2.5, 1.0), (None, None), (0.0, None), (0.0, 3.0)]


def test_dwell_and_entered_many_rows(con: duckdb.DuckDBPyConnection) -> None:
    # Row i: a path of i + 1 points one second apart moving right from x = -2; the points at
    # x >= 0 are inside (x stays below 100 for i < 102) and the last adds no time.
    sql = ("SELECT i, dwell(p, {poly}), entered(p, {poly}) FROM (SELECT i, "
           "list_transform(range(i + 1), lambda k: {{'ts': k, 'x': k - 2, 'y': 50}}) AS p "
           "FROM range(0, 100) t(i)) ORDER BY i")
    for polygon in (BOX, "[[0,0],[100 + i % 2,0],[100 + i % 2,100],[0,100]]"):   # one, many
        rows = con.execute(sql.format(poly=polygon)).fetchall()
        assert [r[1] for r in rows] == [float(max(i - 2, 0)) for i in range(100)]
        assert [r[2] for r in rows] == [None, None] + [2.0] * 98


def test_track_typed_path(con: duckdb.DuckDBPyConnection) -> None:
    # The path as a track table holds it, fields in any order and integer timestamps.
    con.execute("CREATE OR REPLACE TEMP TABLE tracks AS SELECT 7 AS track_id, "
            "[{'x': 50, 'y': 50, 'ts': 0}, {'x': 50, 'y': 150, 'ts': 2}]"
            "::STRUCT(ts DOUBLE, x DOUBLE, y DOUBLE)[] AS path")
    row = con.execute(f"SELECT crossings(path, {LINE}), dwell(path, {BOX}), entered(path, {BOX}) "
                  "FROM tracks").fetchall()[0]
    assert row == (1, 2.0, 0.0)
    assert one(con, "SELECT crossings([{'x': 1, 'y': 50, 'ts': 0}, "
                    f"{{'y': 150, 'x': 1, 'ts': 1}}], {LINE})") == 1


@pytest.mark.parametrize(("sql", "message"), [
    ("inside(1, 1, [[0,0],[1,1]])",
     "inside: a polygon needs at least 3 points, got 2 (polygon [[0, 0], [1, 1]])"),
    ("inside(1, 1, [[0,0],[1,1],[0,0]])", "inside: a polygon needs at least 3 points, got 2"),
    ("inside(1, 1, [])::VARCHAR", "inside: a polygon needs at least 3 points, got 0"),
    ("inside(1, 1, [[0,0,1],[1,0],[1,1]])",
     "inside: each polygon point must be a pair [x, y], got [0.0, 0.0, 1.0]"),
    ("inside(1, 1, [[0,0],[1],[1,1]])", "inside: each polygon point must be a pair [x, y]"),
    ("inside(1, 1, [[0,0],NULL,[1,1],[0,1]])", "inside: a polygon point is NULL"),
    ("inside(1, 1, [[0,0],[NULL,1],[1,1],[0,1]])", "inside: a polygon point has a NULL coordinate"),
    (f"dwell({TRACK}, [[0,0],[1,1]])", "dwell: a polygon needs at least 3 points"),
    (f"entered({TRACK}, [[0,0],[1,1]])", "entered: a polygon needs at least 3 points"),
    (f"dwell({path((2, 1, 1), (1, 2, 2))}, {BOX})",
     "dwell: the path's points are not in time order"),
    (f"crossings({down(50, 50, 150)}, 5, 5, 5, 5)",
     "crossings: the segment from (5, 5) to (5, 5) has no length"),
    (f"crossings([NULL, {{'ts': 1, 'x': 1, 'y': 1}}], {LINE})",
     "crossings: a path has a NULL point"),
    (f"crossings([{{'ts': 1, 'x': 1, 'y': NULL}}], {LINE})",
     "crossings: a path point has a NULL y"),
])
def test_errors(con: duckdb.DuckDBPyConnection, sql: str, message: str) -> None:
    with pytest.raises(duckdb.InvalidInputException) as caught:
        con.execute(f"SELECT {sql}").fetchall()
    assert message in str(caught.value)


def test_functions_listing() -> None:
    assert [row[0] for row in FUNCTIONS] == ["inside", "crossings", "dwell", "entered"]
    for name, signature, description in FUNCTIONS:
        assert signature.startswith(f"{name}(") and " -> " in signature and description


def _reference_crossings(points: list[tuple[int, int]], a: tuple[int, int],
                         b: tuple[int, int]) -> int:
    """Crossings by exact integer arithmetic, one point at a time, without Shapely."""
    dx, dy = b[0] - a[0], b[1] - a[1]

    def side(p: tuple[int, int]) -> int:
        cross = dx * (p[1] - a[1]) - dy * (p[0] - a[0])
        return (cross > 0) - (cross < 0)

    def along(p: tuple[int, int]) -> Fraction:   # where a point on the line lies: 0 at a, 1 at b
        return Fraction((p[0] - a[0]) * dx + (p[1] - a[1]) * dy, dx * dx + dy * dy)

    total, last = 0, None
    for k, p in enumerate(points):
        s = side(p)
        if s == 0:
            continue
        if last is not None and side(points[last]) != s:
            between = points[last + 1:k]
            if between:   # through points on the line: does that stretch meet the segment?
                spots = [along(q) for q in between]
                meets = min(spots) <= 1 and max(spots) >= 0
            else:         # one step straight across: where it meets the line
                p0, p1 = points[last], p
                ex, ey = p1[0] - p0[0], p1[1] - p0[1]
                spot = Fraction((p0[0] - a[0]) * ey - (p0[1] - a[1]) * ex, dx * ey - dy * ex)
                meets = 0 <= spot <= 1
            total += s if meets else 0
        last = k
    return total


def test_crossings_against_a_reference(con: duckdb.DuckDBPyConnection) -> None:
    # Small integer grids put many points exactly on the line and on the segment's ends.
    rng = random.Random(15)
    cases = []
    for _ in range(400):
        points = [(rng.randint(0, 6), rng.randint(0, 6)) for _ in range(rng.randint(0, 9))]
        a = (rng.randint(0, 6), rng.randint(0, 6))
        b = a
        while b == a:
            b = (rng.randint(0, 6), rng.randint(0, 6))
        cases.append((points, a, b))
    values = ", ".join(
        f"({n}, {path(*((float(k), x, y) for k, (x, y) in enumerate(p)))}, {a[0]}, {a[1]}, "
        f"{b[0]}, {b[1]})" for n, (p, a, b) in enumerate(cases))
    rows = con.execute(f"SELECT n, crossings(p::STRUCT(ts DOUBLE, x DOUBLE, y DOUBLE)[], "
                       f"x1, y1, x2, y2) FROM (VALUES {values}) t(n, p, x1, y1, x2, y2) "
                       "ORDER BY n").fetchall()
    assert [r[1] for r in rows] == [_reference_crossings(*case) for case in cases]
    assert sum(1 for r in rows if r[1]) > 50   # the cases do cross


def test_connections_to_one_database_file_share_the_functions(tmp_path: Path) -> None:
    """A second connection of the process to the same file shares DuckDB's instance: its
    registration finds the functions there, and they outlive the first connection."""
    database = str(tmp_path / "shared.duckdb")
    first = duckdb.connect(database)
    register(first)
    second = duckdb.connect(database)
    register(second)
    first.close()
    assert second.execute("SELECT inside(1, 1, [[0, 0], [2, 0], [2, 2]])").fetchall() \
        == [(True,)]
    second.close()
