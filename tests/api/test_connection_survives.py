"""A connection stays usable after any failure, and only VQL errors escape (issue 12: a
statement list left a result open and broke the connection for good; RENDER errors did the
same; several inputs raised Python's own exceptions)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vql


@pytest.mark.parametrize("autocommit", [False, True])
def test_several_statements_in_one_call(autocommit: bool) -> None:
    con = vql.connect(":memory:", autocommit=autocommit)
    assert con.cursor().execute("SELECT 1; SELECT 2").fetchall() == [(2,)]
    assert con.execute("SELECT 3").fetchall() == [(3,)]
    con.execute("CREATE TABLE t AS SELECT 1 AS a; INSERT INTO t VALUES (2); SELECT count(*) FROM t")
    assert con.execute("SELECT sum(a) FROM t").fetchall() == [(3,)]
    con.close()


@pytest.mark.parametrize(("sql", "error"), [
    ("SELECT " + "(" * 60 + "1" + ")" * 60, vql.ParseError),
    ("DESCRIBE DROP FUNCTION x", vql.Error),
    ("RENDER '/nonexistent/dir/x.mp4' AS SELECT path, frame_id FROM road", vql.OperationalError),
    ("RENDER 'x.xyz' AS SELECT path, frame_id FROM road", vql.ProgrammingError),
    ("RENDER '/dev/null' AS SELECT path, frame_id FROM road WHERE false", vql.ProgrammingError),
    ("RENDER TIMELINE 'x.mp4' AS SELECT ts, frame_id FROM road", vql.ProgrammingError),
    ("RENDER TIMELINE '{tmp}/t.png' AS SELECT ts, ts, frame_id FROM road", vql.ProgrammingError),
])
@pytest.mark.parametrize("autocommit", [False, True])
def test_a_failure_leaves_the_connection_usable(road_video: Path, tmp_path: Path, sql: str,
                                                error: type, autocommit: bool) -> None:
    con = vql.connect(":memory:", autocommit=autocommit)
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    with pytest.raises(error):
        con.execute(sql.format(tmp=tmp_path)).fetchall()
    assert con.execute("SELECT 1").fetchall() == [(1,)]
    assert con.execute("SELECT count(*) FROM road").fetchall() == [(377,)]  # nothing lost
    con.close()


def test_a_path_that_is_not_text_is_a_video_error(con: vql.Connection) -> None:
    with pytest.raises(vql.VideoError, match="no such file"):
        con.execute("LOAD VIDEO ? INTO t", [b"\xff"])
    assert con.execute("SELECT 1").fetchall() == [(1,)]


def test_threads_sharing_a_connection_get_a_programming_error(road: vql.Connection) -> None:
    """threadsafety is 1: a connection is not for several threads at once. A thread that
    calls in while another's statement runs is told so; nothing breaks."""
    import threading
    from collections import Counter

    outcomes: Counter[str] = Counter()

    def work() -> None:
        for _ in range(3):
            try:
                road.execute("SELECT avg(brightness) FROM intersection SAMPLE 2 FPS").fetchall()
                outcomes["ok"] += 1
            except vql.ProgrammingError:
                outcomes["refused"] += 1
            except BaseException as error:  # anything else is the bug this test is about
                outcomes[type(error).__name__] += 1

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) <= {"ok", "refused"} and outcomes["ok"] >= 1, outcomes
    assert road.execute("SELECT count(*) FROM intersection").fetchall() == [(377,)]


# --- found by the generated statements (tests/api/test_generated_statements.py) ---------------

@pytest.mark.parametrize("autocommit", [False, True])
def test_end_and_abort_end_the_transaction_as_duckdb_reads_them(autocommit: bool) -> None:
    """END commits and ABORT rolls back (PostgreSQL's and DuckDB's words). They went to
    DuckDB behind the engine's back: commit() and close() then raised DuckDB's own error."""
    con = vql.connect(":memory:", autocommit=autocommit)
    con.execute("CREATE TABLE t (a INTEGER)")
    con.execute("INSERT INTO t VALUES (1); END")
    con.execute("INSERT INTO t VALUES (2)")
    con.execute("ABORT")
    con.execute("START TRANSACTION")
    con.execute("INSERT INTO t VALUES (3); END TRANSACTION")
    con.commit()
    expected = [(1,), (2,), (3,)] if autocommit else [(1,), (3,)]
    assert con.execute("SELECT a FROM t ORDER BY a").fetchall() == expected
    con.close()
    assert con.closed


@pytest.mark.parametrize("sql", ["SELECT 1; --", "SELECT 1;/* a comment */", "SELECT 1;;"])
def test_a_comment_after_the_last_statement_is_no_statement(con: vql.Connection,
                                                           sql: str) -> None:
    assert con.execute(sql).fetchall() == [(1,)]


def test_a_rollback_takes_back_functions_created_in_the_transaction(road: vql.Connection
                                                                    ) -> None:
    con = vql.connect(":memory:")
    con.execute("CREATE FUNCTION kept AS brightness(frame) > 0.4")
    con.execute("BEGIN")
    con.execute("CREATE FUNCTION h AS brightness(frame) > 0.5")
    con.execute("DROP FUNCTION kept")
    con.rollback()
    names = {r[0] for r in con.execute("SHOW FUNCTIONS").fetchall()}
    assert "kept" in names and "h" not in names
    assert con.execute("SELECT name FROM vql_catalog.functions").fetchall() == [("kept",)]
    con.close()


def test_extreme_limit_and_sample_rate(road: vql.Connection) -> None:
    """A LIMIT past a C long raised an InternalError (pyarrow's OverflowError); it is DuckDB's
    DataError, as in DuckDB. A SAMPLE rate of 1e20 FPS overflowed the frame ticks and kept 2
    frames of 8 (any rate above the video's keeps them all); an infinite one is refused."""
    with pytest.raises(vql.DataError, match="out of range"):
        road.execute("SELECT frame_id FROM intersection LIMIT 9223372036854775808")
    assert road.execute("SELECT count(*) FROM (SELECT frame_id FROM intersection "
                        "LIMIT 9223372036854775807)").fetchall() == [(377,)]
    assert road.execute("SELECT count(*) FROM intersection SAMPLE 1e20 FPS").fetchall() == \
        [(377,)]
    with pytest.raises(vql.BindError, match="positive rate"):
        road.execute("SELECT count(*) FROM intersection SAMPLE 1e400 FPS")


def test_a_marker_before_a_cast(con: vql.Connection) -> None:
    """'?::INT' was one token to the tokenizer: a ParseError, and a wrong marker count with
    another '?' (issue 13)."""
    assert con.execute("SELECT ?::INT + ?", ["5", 1]).fetchall() == [(6,)]
