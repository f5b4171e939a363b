"""The DB-API contract beyond the compliance suite: streaming, Arrow fetches, parameter binding,
transactions, warnings."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pyarrow as pa
import pytest

import vql


def test_module_globals_and_type_objects() -> None:
    assert (vql.apilevel, vql.threadsafety, vql.paramstyle) == ("2.0", 1, "qmark")
    cur = vql.connect().execute("SELECT 1::INTEGER, 'a', 1.5::DOUBLE, DATE '2020-01-02', "
                                "'x'::BLOB")
    codes = [d[1] for d in cur.description or ()]
    assert codes[0] == vql.NUMBER and codes[2] == vql.NUMBER and codes[1] == vql.STRING
    assert codes[3] == vql.DATETIME and codes[4] == vql.BINARY and codes[1] != vql.NUMBER
    assert vql.Binary("ab") == b"ab" and vql.Date(2020, 1, 2) == datetime.date(2020, 1, 2)
    assert isinstance(vql.TimestampFromTicks(0), datetime.datetime)


def test_exception_hierarchy_is_rooted_in_pep_249() -> None:
    assert issubclass(vql.ParseError, vql.ProgrammingError)
    assert issubclass(vql.VideoError, vql.DataError)
    assert issubclass(vql.ModelError, vql.OperationalError)
    assert all(issubclass(c, vql.DatabaseError) for c in (
        vql.DataError, vql.OperationalError, vql.IntegrityError, vql.InternalError,
        vql.ProgrammingError, vql.NotSupportedError))
    assert issubclass(vql.TargetNotOptimizedWarning, vql.Warning)


def test_duckdb_errors_arrive_as_vql_errors(con: vql.Connection) -> None:
    con.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(vql.IntegrityError):
        con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(vql.DataError):
        con.execute("SELECT 'x'::INTEGER")


def test_parameters_are_bound_not_spliced(con: vql.Connection) -> None:
    con.execute("CREATE TABLE people (name VARCHAR)")
    nasty = "O'Brien'); DROP TABLE people; --"
    con.execute("INSERT INTO people VALUES (?)", [nasty])
    assert con.execute("SELECT name FROM people WHERE name = ?", (nasty,)).fetchall() == [
        (nasty,)]
    with pytest.raises(vql.ProgrammingError, match="qmark"):
        con.execute("SELECT ?", {"a": 1})


def test_fetchmany_uses_arraysize_and_streams(road: vql.Connection) -> None:
    cur = road.cursor()
    cur.arraysize = 100
    cur.execute("SELECT frame_id FROM intersection")
    sizes = []
    while rows := cur.fetchmany():
        sizes.append(len(rows))
    assert sizes == [100, 100, 100, 77]
    assert cur.fetchone() is None


def test_arrow_and_pandas_fetches(road: vql.Connection) -> None:
    cur = road.execute("SELECT frame_id, ts FROM intersection")
    first = cur.fetchone()
    reader = cur.fetch_record_batches()
    assert isinstance(reader, pa.RecordBatchReader)
    table = reader.read_all()
    assert first == (0, 0.0) and table.num_rows == 376 and table.column(0)[0].as_py() == 1
    frame = road.execute("SELECT frame_id, brightness FROM intersection LIMIT 4").fetchdf()
    assert list(frame.columns) == ["frame_id", "brightness"] and len(frame) == 4
    arrow = road.execute("SELECT count(*) AS n FROM intersection").fetch_arrow_table()
    assert arrow.to_pylist() == [{"n": 377}]


def test_interleaved_cursors_each_get_their_rows(road: vql.Connection) -> None:
    first = road.execute("SELECT frame_id FROM intersection")
    assert first.fetchone() == (0,)
    second = road.execute("SELECT count(*) FROM intersection")  # first's rest is kept
    assert second.fetchall() == [(377,)]
    assert len(first.fetchall()) == 376


def test_iteration_and_rowcount(con: vql.Connection) -> None:
    con.execute("CREATE TABLE t (a INTEGER)")
    cur = con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(5)])
    assert cur.rowcount == 5
    assert [row for row in con.execute("SELECT a FROM t ORDER BY a")] == [(i,) for i in range(5)]
    assert con.execute("UPDATE t SET a = a + 1 WHERE a < 2").rowcount == 2


def test_fetch_without_a_result_set_is_an_error(con: vql.Connection) -> None:
    cur = con.execute("CREATE TABLE t (a INTEGER)")
    assert cur.description is None
    with pytest.raises(vql.Error):
        cur.fetchone()


def test_closed_objects_refuse_work() -> None:
    con = vql.connect()
    cur = con.cursor()
    cur.close()
    with pytest.raises(vql.InterfaceError):
        cur.execute("SELECT 1")
    con.close()
    with pytest.raises(vql.InterfaceError):
        con.cursor()


def test_transactions_follow_pep_249_without_autocommit(tmp_path: Path) -> None:
    database = str(tmp_path / "t.duckdb")
    con = vql.connect(database, autocommit=False)
    con.execute("CREATE TABLE kept (a INTEGER)")
    con.commit()
    con.execute("CREATE TABLE dropped (a INTEGER)")
    con.rollback()
    con.execute("INSERT INTO kept VALUES (1)")
    con.close()  # closing without commit rolls back
    with vql.connect(database, autocommit=False) as again:
        tables = [r[0] for r in again.execute("SHOW TABLES").fetchall()]
        assert tables == ["kept"]
        assert again.execute("SELECT count(*) FROM kept").fetchall() == [(0,)]
        again.execute("INSERT INTO kept VALUES (2)")  # committed by the context manager
    with vql.connect(database) as third:
        assert third.execute("SELECT a FROM kept").fetchall() == [(2,)]


def test_a_failed_statement_rolls_an_open_transaction_back_and_says_so(tmp_path: Path
                                                                         ) -> None:
    con = vql.connect(str(tmp_path / "t.duckdb"))
    con.execute("BEGIN")
    con.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(vql.DataError, match="the transaction was rolled back"):
        con.execute("SELECT 'x'::INTEGER")
    assert con.execute("SELECT 1").fetchall() == [(1,)]  # usable again
    with pytest.raises(vql.CatalogError):
        con.execute("SELECT * FROM t")  # the CREATE TABLE went with the rollback
    con.close()


def test_video_loads_are_transactional(tmp_path: Path, road_video: Path) -> None:
    con = vql.connect(str(tmp_path / "t.duckdb"), autocommit=False)
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    con.rollback()
    assert con.execute("SHOW TABLES").fetchall() == []
    con.close()


def test_targets_warn_through_the_dbapi(road: vql.Connection) -> None:
    with pytest.warns(vql.TargetNotOptimizedWarning, match="ACCURACY 0.9"):
        cur = road.execute("SELECT count(*) FROM intersection WITH ACCURACY 0.9")
    assert cur.fetchall() == [(377,)]
    assert cur.messages[0][0] is vql.TargetNotOptimizedWarning


INTERRUPTING = '''
import pyarrow as pa, vql
calls = {"n": 0}
@vql.udf(inputs=["frame"], returns=pa.int64())
def interrupt_third(frames):
    calls["n"] += 1
    if calls["n"] == 3:
        raise KeyboardInterrupt
    return [1] * len(frames)
'''


@pytest.mark.parametrize("autocommit", [True, False])
@pytest.mark.parametrize("query", [
    "SELECT sum(interrupt_third) FROM road",  # interrupted inside execute()
    "SELECT interrupt_third FROM road",       # interrupted while rows stream to fetchall()
])
def test_an_interrupted_query_leaves_the_connection_usable(tmp_path: Path, road_video: Path,
                                                           autocommit: bool, query: str) -> None:
    path = tmp_path / "interrupt.py"
    path.write_text(INTERRUPTING)
    con = vql.connect(str(tmp_path / "db.duckdb"), autocommit=autocommit)
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    con.execute("CREATE FUNCTION interrupt_third FROM ?", [str(path)])
    con.commit()
    with pytest.raises(KeyboardInterrupt):
        con.execute(query).fetchall()
    assert not [t for t in threading.enumerate() if t.name == "vql-prefetch"]  # decoding stopped
    assert con.execute("SELECT count(*) FROM road WHERE brightness > 0").fetchall() == [(377,)]
    con.close()


def test_integer_sums_are_python_ints(road: vql.Connection) -> None:
    """sum() of integers is DuckDB's 128-bit HUGEINT, which reached Python as Decimal and
    pandas as an object column; DuckDB's and sqlite3's APIs give int (issue 13)."""
    cur = road.execute("SELECT sum(frame_id) AS s, count(*) AS n FROM intersection")
    assert cur.fetchall() == [(70876, 377)]
    assert type(road.execute("SELECT sum(frame_id) FROM intersection").fetchone()[0]) is int
    frame = road.execute("SELECT sum(frame_id) AS s FROM intersection").fetchdf()
    assert str(frame.dtypes["s"]) == "int64" and frame["s"][0] == 70876
    # past int64, float64 as DuckDB's df() gives
    big = road.execute("SELECT sum(frame_id) * 100000000000000000000 AS b "
                       "FROM intersection").fetchdf()
    assert str(big.dtypes["b"]) == "float64" and big["b"][0] == 70876e20


def test_duckdb_names_and_a_readable_stats_line(road: vql.Connection) -> None:
    """con.sql(...).df() / .arrow() / .fetchall() as in DuckDB; print(cur.stats) is one line
    (issue 13)."""
    cur = road.sql("SELECT frame_id, brightness FROM intersection WHERE frame_id < 20")
    assert cur.arrow().num_rows == 20
    assert len(road.sql("SELECT 1 AS a").df()) == 1
    assert road.sql("SELECT ? + 1", [1]).fetchall() == [(2,)]
    assert str(cur.stats) == ("377 frames scanned, 20 decoded, brightness on 20, "
                              "357 rows filtered in the pipeline")
