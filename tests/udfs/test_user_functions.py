"""CREATE FUNCTION from a Python file or an expression; functions persist in the catalog."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import vql

REDNESS = textwrap.dedent('''
    import numpy as np
    import pyarrow as pa
    import vql

    @vql.udf(inputs=["frame", "channel:int=0"], returns=pa.float64(), cost_ms=0.3)
    def redness(frames, channel):
        """Mean of one colour channel, 0..1."""
        return frames[..., channel].reshape(len(frames), -1).mean(axis=1) / 255.0

    @vql.udf(inputs=["frame"], returns=pa.int64(), stateful=True, batchable=False)
    class frame_counter:
        """How many frames of this video it has seen."""
        def __init__(self):
            self.seen = 0
        def __call__(self, frame):
            self.seen += 1
            return self.seen
''')


@pytest.fixture
def udf_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_udfs.py"
    path.write_text(REDNESS)
    return path


def test_function_from_a_file(road: vql.Connection, udf_file: Path) -> None:
    road.execute("CREATE FUNCTION redness FROM ?", [str(udf_file)])
    rows = road.execute("SELECT redness, redness(frame, 2) FROM intersection LIMIT 2").fetchall()
    assert len(rows) == 2 and all(0 < r < 1 and 0 < b < 1 for r, b in rows)
    functions = {row[0]: row for row in road.execute("SHOW FUNCTIONS").fetchall()}
    assert functions["redness"][2] == "redness(frame, channel BIGINT = 0)"
    assert functions["redness"][9] == str(udf_file.resolve())


def test_stateful_user_function_restarts_per_video(road: vql.Connection, udf_file: Path,
                                                   room_video: Path) -> None:
    road.execute(f"CREATE FUNCTION frame_counter FROM '{udf_file}'")
    road.execute("LOAD VIDEO ? INTO intersection", [str(room_video)])
    rows = road.execute("""SELECT video_id, min(frame_counter), max(frame_counter), count(*)
                           FROM intersection GROUP BY video_id ORDER BY video_id""").fetchall()
    assert [(lo, hi) for _, lo, hi, _ in rows] == [(1, n) for *_, n in rows]


def test_function_defined_by_an_expression(room: vql.Connection) -> None:
    room.execute("CREATE FUNCTION busy AS count_objects(frame, 'person') >= 1")
    room.execute("CREATE FUNCTION crowded(frame, label) AS count_objects(frame, label) >= 2")
    rows = room.execute("SELECT frame_id, busy, crowded(frame, 'person') FROM room "
                        "WHERE frame_id IN (0, 100) ORDER BY frame_id").fetchall()
    assert rows == [(0, False, False), (100, True, False)]
    (count,), = room.execute("SELECT count(*) FROM room WHERE busy SAMPLE 1 FPS").fetchall()
    assert 0 < count < 140


def test_functions_persist_in_the_catalog(tmp_path: Path, udf_file: Path,
                                          road_video: Path) -> None:
    database = str(tmp_path / "catalog.duckdb")
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
        con.execute("CREATE FUNCTION redness FROM ?", [str(udf_file)])
        con.execute("CREATE FUNCTION dark AS brightness(frame) < 0.5")
    with vql.connect(database) as con:
        rows = con.execute("SELECT redness, dark FROM intersection LIMIT 1").fetchall()
        assert len(rows) == 1 and isinstance(rows[0][1], bool)
        con.execute("DROP FUNCTION dark")
    with vql.connect(database) as con, pytest.raises(vql.BindError, match="unknown column 'dark'"):
        con.execute("SELECT dark FROM intersection")


@pytest.mark.parametrize(("sql", "message"), [
    ("CREATE FUNCTION detect AS brightness(frame)", "built-in function"),
    ("CREATE FUNCTION length AS brightness(frame)", "built-in SQL function"),
    ("DROP FUNCTION congested", "built-in function"),
    ("DROP FUNCTION nothing_here", "unknown function 'nothing_here'"),
    ("CREATE FUNCTION f FROM '/no/such/file.py'", "no such file"),
])
def test_function_errors(con: vql.Connection, sql: str, message: str) -> None:
    with pytest.raises(vql.CatalogError, match=message):
        con.execute(sql)


@pytest.mark.parametrize(("code", "raised"), [
    ("def oops(:\n", "SyntaxError"),
    ("raise SystemExit(0)\n", "SystemExit"),  # ends nothing but the file's loading
    ("import os\nos.environ['X'] = 1\n", "TypeError"),
])
def test_a_file_that_fails_to_load_is_a_udf_error(con: vql.Connection, tmp_path: Path,
                                                  code: str, raised: str) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(code)
    with pytest.raises(vql.UDFError, match=raised):
        con.execute("CREATE FUNCTION oops FROM ?", [str(broken)])
    assert "oops" not in con.engine.registry
    assert con.execute("SELECT 1").fetchall() == [(1,)]


def test_a_function_file_runs_again_only_if_unchanged(tmp_path: Path, udf_file: Path) -> None:
    """A database keeps the hash of each function file: reopening it runs the file only as
    it was when created; load_functions=False runs none (a database from someone else)."""
    database = str(tmp_path / "trust.duckdb")
    with vql.connect(database) as con:
        con.execute("CREATE FUNCTION redness FROM ?", [str(udf_file)])
    with vql.connect(database) as con:
        assert con.messages == [] and "redness" in con.engine.registry
    with vql.connect(database, load_functions=False) as con:
        assert "redness" not in con.engine.registry
        assert "load_functions=False" in con.messages[0][1]
    udf_file.write_text(REDNESS + "\nraise SystemExit('replaced')\n")
    with vql.connect(database) as con:
        assert "redness" not in con.engine.registry
        assert "changed since CREATE FUNCTION" in con.messages[0][1]
    udf_file.write_text(REDNESS + "\n# reviewed\n")
    with vql.connect(database) as con:  # trusting the new code is the user's call
        con.execute("CREATE OR REPLACE FUNCTION redness FROM ?", [str(udf_file)])
    with vql.connect(database) as con:
        assert con.messages == [] and "redness" in con.engine.registry


def test_redefining_needs_or_replace(con: vql.Connection) -> None:
    con.execute("CREATE FUNCTION dark AS brightness(frame) < 0.5")
    with pytest.raises(vql.CatalogError, match="already exists"):
        con.execute("CREATE FUNCTION dark AS brightness(frame) < 0.4")
    con.execute("CREATE OR REPLACE FUNCTION dark AS brightness(frame) < 0.4")


def test_failing_user_function_names_itself_and_the_frames(road: vql.Connection,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("import pyarrow as pa, vql\n"
                    "@vql.udf(inputs=['frame'], returns=pa.int64())\n"
                    "def kaboom(frames):\n    raise ValueError('boom')\n")
    road.execute("CREATE FUNCTION kaboom FROM ?", [str(path)])
    with pytest.raises(vql.UDFError, match=r"kaboom\(frame\) failed on .* frames 0\.\.15: "
                                            r"ValueError: boom"):
        road.execute("SELECT kaboom FROM intersection").fetchall()
    assert road.execute("SELECT 42").fetchall() == [(42,)]  # the connection still works


def test_typed_macro_parameters(tmp_path: Path, road_video: Path) -> None:
    """CREATE FUNCTION f(frame, k INTEGER): arguments are taken as DuckDB's typed macros take
    them (of the type, or implicitly cast to it), the type shows in SHOW FUNCTIONS, and the
    function reloads with its types when the database is opened again."""
    database = str(tmp_path / "typed.duckdb")
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        con.execute("CREATE FUNCTION atleast(frame, k INTEGER) AS brightness(frame) * 10 >= k")
        con.execute("CREATE FUNCTION near(frame, lo DOUBLE, hi DOUBLE) "
                    "AS brightness(frame) BETWEEN lo AND hi")
    with vql.connect(database) as con:
        signatures = dict(r[:3:2] for r in con.execute("SHOW FUNCTIONS").fetchall())
        assert signatures["atleast"] == "atleast(frame, k INTEGER)"
        assert signatures["near"] == "near(frame, lo DOUBLE, hi DOUBLE)"
        rows = con.execute("SELECT frame_id, atleast(frame, 4), atleast(frame, ?::SMALLINT), "
                           "near(frame, 0, 1) FROM road WHERE frame_id < 2", [9]).fetchall()
        assert rows == [(0, True, False, True), (1, True, False, True)]
        assert con.execute("SELECT count(*) FROM road WHERE atleast(frame, frame_id) "
                           "AND frame_id < 8").fetchall() == [(5,)]  # 0..4 <= 4.48


@pytest.mark.parametrize(("call", "fragment"), [
    ("atleast(frame, '2')", "argument 'k' must be INTEGER, not '2' (VARCHAR)"),
    ("atleast(frame, 2.5)", "argument 'k' must be INTEGER, not 2.5 (DECIMAL(2,1))"),
    ("atleast(frame, 3000000000)", "argument 'k' must be INTEGER, not 3000000000 (BIGINT)"),
    ("atleast(frame, ?)", "argument 'k' must be INTEGER, not 'x' (VARCHAR)"),
])
def test_a_constant_of_the_wrong_type_is_a_bind_error(road: vql.Connection, call: str,
                                                      fragment: str) -> None:
    road.execute("CREATE FUNCTION atleast(frame, k INTEGER) AS brightness(frame) * 10 >= k")
    with pytest.raises(vql.BindError) as raised:
        road.execute(f"SELECT {call} FROM intersection", ["x"] if "?" in call else [])
    assert f"atleast(frame, k INTEGER): {fragment}" in str(raised.value)
    assert raised.value.position is not None  # with a caret under the call


def test_a_column_of_the_wrong_type_names_the_function(road: vql.Connection) -> None:
    road.execute("CREATE FUNCTION atleast(frame, k INTEGER) AS brightness(frame) * 10 >= k")
    with pytest.raises(vql.Error, match=r"atleast\(frame, k INTEGER\): argument 'k' must be "
                                        r"INTEGER, not VARCHAR"):
        road.execute("SELECT atleast(frame, path) FROM intersection LIMIT 1").fetchall()


@pytest.mark.parametrize(("sql", "fragment"), [
    ("CREATE FUNCTION f(frame, k INTEGR) AS 1", "parameter 'k' has an unknown type 'INTEGR'"),
    ("CREATE FUNCTION f(frame BLOB) AS 1", "the frame parameter takes no type"),
])
def test_bad_parameter_types(con: vql.Connection, sql: str, fragment: str) -> None:
    with pytest.raises(vql.BindError, match=fragment):
        con.execute(sql)
    with pytest.raises(vql.ParseError, match="Expected a type"):
        con.execute("CREATE FUNCTION f(frame, k 3) AS 1")
