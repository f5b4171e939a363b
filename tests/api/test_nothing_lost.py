"""Nothing a user did is lost by a later mistake (issue 13): after each kind of failure, the
loads, functions, tables and cached values made before it are still there, in the same
connection and after close and reopen. With the default ``autocommit`` each statement that
succeeded is committed; only a transaction the user opened (``BEGIN``, or ``autocommit=False``)
can be rolled back by a failure, and the error says so."""

from __future__ import annotations

from pathlib import Path

import pytest

import vql

FUNCTIONS = '''
import pyarrow as pa, vql

@vql.udf(inputs=["frame"], returns=pa.int64())
def boom(frames):
    raise ValueError("boom: this function always fails")

@vql.udf(inputs=["frame"], returns=pa.int64())
def interrupt(frames):
    raise KeyboardInterrupt

@vql.udf(inputs=["frame"], returns=pa.float64())
def mean_level(frames):
    return frames.reshape(len(frames), -1).mean(axis=1) / 255.0
'''

CACHED = "SELECT avg(brightness) FROM road SAMPLE 2 FPS"

# (name, statement, what it raises): each kind of failure, in several kinds of statement
FAILURES = [
    ("vql-bind-error", "SELECT no_such_function(frame) FROM road", vql.BindError),
    ("duckdb-bind-error", "SELECT sum(lag(frame_id) OVER ()) FROM road", vql.BindError),
    ("duckdb-conversion-error", "INSERT INTO notes VALUES ('not a number')", vql.DataError),
    ("duckdb-catalog-error", "SELECT * FROM no_such_table", vql.CatalogError),
    ("failed-load", "LOAD VIDEO 'no/such/video.mp4' INTO road2", vql.Error),
    ("failed-create-function", "CREATE FUNCTION broken FROM 'no/such/file.py'", vql.Error),
    ("failed-drop", "DROP VIDEO TABLE no_such_table", vql.Error),
    ("udf-raises", "SELECT boom(frame) FROM road", vql.Error),
    ("ctrl-c", "SELECT interrupt(frame) FROM road", KeyboardInterrupt),
    ("parse-error", "SELEC frame_id FROM road", vql.ParseError),
]


def do_earlier_work(con: vql.Connection, functions: Path, road_video: Path) -> None:
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    con.execute("CREATE FUNCTION bright AS brightness(frame) > 0.4")
    con.execute("CREATE FUNCTION boom FROM ?", [str(functions)])
    con.execute("CREATE FUNCTION interrupt FROM ?", [str(functions)])
    con.execute("CREATE FUNCTION mean_level FROM ?", [str(functions)])
    con.execute("CREATE TABLE notes (a INTEGER)")
    con.execute("INSERT INTO notes VALUES (1), (2)")
    assert con.execute(CACHED).stats.frames_decoded > 0  # type: ignore[union-attr]


def assert_earlier_work_is_there(con: vql.Connection) -> None:
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert {"road", "notes"} <= tables
    functions = {r[0] for r in con.execute("SHOW FUNCTIONS").fetchall()}
    assert {"bright", "boom", "interrupt", "mean_level"} <= functions
    assert con.execute("SELECT count(*) FROM road WHERE bright").fetchall()[0][0] > 0
    assert con.execute("SELECT sum(a) FROM notes").fetchall() == [(3,)]
    cursor = con.execute(CACHED)
    cursor.fetchall()
    assert cursor.stats is not None
    assert cursor.stats.frames_reused > 0 and cursor.stats.frames_decoded == 0


@pytest.mark.parametrize("name,statement,raised", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failure_keeps_earlier_work(tmp_path: Path, road_video: Path, name: str,
                                      statement: str, raised: type[BaseException]) -> None:
    functions = tmp_path / "functions.py"
    functions.write_text(FUNCTIONS)
    database = str(tmp_path / "work.duckdb")
    con = vql.connect(database)
    do_earlier_work(con, functions, road_video)
    with pytest.raises(raised) as failure:
        con.execute(statement).fetchall()
    assert "rolled back" not in str(failure.value)
    assert_earlier_work_is_there(con)
    con.close()  # no commit(): with autocommit nothing waits to be committed
    with vql.connect(database) as again:
        assert_earlier_work_is_there(again)


def test_the_issue_example_keeps_the_loaded_table(tmp_path: Path, road_video: Path) -> None:
    """Before: the DuckDB error rolled back the implicit transaction, and SHOW TABLES was []."""
    con = vql.connect(str(tmp_path / "tx2.duckdb"))
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    with pytest.raises(vql.BindError, match="window function"):
        con.execute("SELECT sum(lag(frame_id) OVER ()) FROM road")
    assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["road"]
    con.close()


@pytest.mark.parametrize("opened", ["begin", "autocommit-off"])
def test_a_failure_in_a_transaction_the_user_opened_rolls_back_only_it(
        tmp_path: Path, road_video: Path, opened: str) -> None:
    """What was committed before the transaction stays; the transaction's own work goes, and
    the error says so."""
    functions = tmp_path / "functions.py"
    functions.write_text(FUNCTIONS)
    database = str(tmp_path / "work.duckdb")
    con = vql.connect(database)
    do_earlier_work(con, functions, road_video)
    if opened == "begin":
        con.execute("BEGIN")
    else:
        con.autocommit = False
    con.execute("CREATE TABLE scratch (a INTEGER)")
    with pytest.raises(vql.BindError, match="the transaction was rolled back"):
        con.execute("SELECT sum(lag(frame_id) OVER ()) FROM road")
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert "scratch" not in tables
    assert_earlier_work_is_there(con)
    con.close()
    with vql.connect(database) as again:
        assert_earlier_work_is_there(again)


def test_closing_without_commit_keeps_cached_values(tmp_path: Path, road_video: Path) -> None:
    """The values the last query computed were written only when the next statement began,
    so closing right after it dropped them."""
    database = str(tmp_path / "work.duckdb")
    con = vql.connect(database)
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    con.execute(CACHED).fetchall()
    con.close()
    with vql.connect(database) as again:
        cursor = again.execute(CACHED)
        cursor.fetchall()
        assert cursor.stats is not None and cursor.stats.frames_decoded == 0


def test_a_script_that_ends_without_close_keeps_cached_values(tmp_path: Path,
                                                              road_video: Path) -> None:
    """Computed values were written when the next statement began or at close(): a script
    that just ended lost them."""
    import subprocess
    import sys

    database = str(tmp_path / "work.duckdb")
    script = ("import sys, vql\ncon = vql.connect(sys.argv[1])\n"
              "con.execute('LOAD VIDEO ? INTO road', [sys.argv[2]])\n"
              f"print(con.execute({CACHED!r}).fetchall())\n")
    subprocess.run([sys.executable, "-c", script, database, str(road_video)], check=True,
                   timeout=120)
    with vql.connect(database) as again:
        cursor = again.execute(CACHED)
        cursor.fetchall()
        assert cursor.stats is not None and cursor.stats.frames_decoded == 0
