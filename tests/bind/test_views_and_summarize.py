"""SUMMARIZE and views over video tables, and VQL's listings read as subqueries."""

from __future__ import annotations

from pathlib import Path

import pytest

import vql

SUMMARY_COLUMNS = ["column_name", "column_type", "min", "max", "approx_unique", "avg", "std",
                   "q25", "q50", "q75", "count", "null_percentage"]
PLAIN_COLUMNS = ["video_id", "path", "frame_id", "ts", "fps", "width", "height", "duration",
                 "computed"]


def test_summarize_a_video_table_summarizes_its_plain_columns(road: vql.Connection) -> None:
    cur = road.execute("SUMMARIZE intersection")
    assert [d[0] for d in cur.description or ()] == SUMMARY_COLUMNS
    rows = {r[0]: r for r in cur.fetchall()}
    assert list(rows) == PLAIN_COLUMNS  # not the pixels
    assert rows["frame_id"][1:4] == ("INTEGER", "0", "376")
    assert rows["fps"][2] == "12.5" and rows["path"][10] == 377
    assert cur.stats is not None and cur.stats.frames_decoded == 0


def test_summarize_a_query_runs_it_the_vql_way(road: vql.Connection) -> None:
    cur = road.execute("SUMMARIZE SELECT frame_id, brightness FROM intersection SAMPLE 1 FPS")
    rows = {r[0]: r for r in cur.fetchall()}
    assert list(rows) == ["frame_id", "brightness"]
    assert rows["brightness"][1] == "DOUBLE" and rows["brightness"][10] == 31  # 30.2 s
    assert 0 < float(rows["brightness"][2]) <= float(rows["brightness"][3]) < 1
    assert cur.stats is not None and cur.stats.frames_decoded == 31
    nested = road.execute("SELECT column_name, count FROM (SUMMARIZE SELECT frame_id FROM "
                          "intersection WHERE frame_id < 5)").fetchall()
    assert nested == [("frame_id", 5)]
    table = road.execute("SELECT column_name FROM (SUMMARIZE intersection) WHERE count = 377")
    assert [r[0] for r in table.fetchall()] == PLAIN_COLUMNS


def test_summarize_takes_no_target(road: vql.Connection) -> None:
    with pytest.raises(vql.BindError, match="applies to a query, not to SUMMARIZE"):
        road.execute("SUMMARIZE SELECT brightness FROM intersection WITH ACCURACY 0.9")


def test_summarize_of_a_plain_table_returns_its_rows(con: vql.Connection) -> None:
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(4)")
    assert con.execute("SUMMARIZE t").fetchall()[0][:4] == ("x", "BIGINT", "0", "3")


def test_a_view_over_a_video_table_survives_reopening(tmp_path: Path, road_video: Path) -> None:
    database = str(tmp_path / "views.duckdb")
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        con.execute("CREATE VIEW bright AS SELECT frame_id, brightness FROM road "
                    "WHERE frame_id < ?", [6])
        con.execute("CREATE VIEW even(f, b) AS SELECT * FROM bright WHERE frame_id % 2 = 0")
        first = con.execute("SELECT * FROM bright ORDER BY frame_id").fetchall()
        assert [r[0] for r in first] == [0, 1, 2, 3, 4, 5]
    with vql.connect(database) as con:
        assert con.execute("SELECT * FROM bright ORDER BY frame_id").fetchall() == first
        cur = con.execute("SELECT * FROM even ORDER BY f")
        assert [d[0] for d in cur.description or ()] == ["f", "b"]
        assert cur.fetchall() == first[::2]
        kinds = dict(con.execute("SELECT name, kind FROM (SHOW TABLES)").fetchall())
        assert kinds == {"road": "video", "bright": "view", "even": "view"}
        assert [r[0] for r in con.execute("DESCRIBE bright").fetchall()] == [
            "frame_id", "brightness"]
        con.execute("DROP VIEW even")
        con.execute("DROP VIEW bright")
    with vql.connect(database) as con:
        with pytest.raises(vql.CatalogError, match="unknown table 'bright'"):
            con.execute("SELECT * FROM bright")
        assert con.execute("SELECT name FROM (SHOW TABLES)").fetchall() == [("road",)]


def test_create_or_replace_and_if_not_exists(road: vql.Connection) -> None:
    road.execute("CREATE VIEW v AS SELECT frame_id FROM intersection WHERE frame_id < 2")
    with pytest.raises(vql.CatalogError, match="view 'v' already exists"):
        road.execute("CREATE VIEW v AS SELECT 1")
    road.execute("CREATE VIEW IF NOT EXISTS v AS SELECT 1 AS frame_id")
    assert road.execute("SELECT * FROM v").fetchall() == [(0,), (1,)]
    road.execute("CREATE OR REPLACE VIEW v AS SELECT ts FROM intersection WHERE frame_id = 1")
    assert road.execute("SELECT * FROM v").fetchall() == [(0.08,)]
    road.execute("CREATE OR REPLACE VIEW v AS SELECT 7 AS x")  # now DuckDB's own view
    assert road.execute("SELECT * FROM v").fetchall() == [(7,)]
    road.execute("CREATE OR REPLACE VIEW v AS SELECT frame_id FROM intersection LIMIT 1")
    assert road.execute("SELECT * FROM v").fetchall() == [(0,)]
    with pytest.raises(vql.CatalogError, match="'v' is a view over video tables"):
        road.execute("CREATE TABLE v AS SELECT 1")
    with pytest.raises(vql.CatalogError, match="is a view: DROP VIEW v"):
        road.execute("DROP TABLE v")


def test_plain_views_stay_duckdbs(con: vql.Connection) -> None:
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(3)")
    con.execute("CREATE VIEW pv AS SELECT x * 2 AS y FROM t")
    assert con.execute("SELECT sum(y) FROM pv").fetchall() == [(6,)]
    assert con.execute("SELECT count(*) FROM vql_catalog.views").fetchall() == [(0,)]
    con.execute("DROP VIEW pv")


def test_a_rolled_back_view_is_gone(road: vql.Connection) -> None:
    road.execute("BEGIN")
    road.execute("CREATE VIEW gone AS SELECT frame_id FROM intersection")
    road.execute("ROLLBACK")
    with pytest.raises(vql.CatalogError, match="unknown table 'gone'"):
        road.execute("SELECT * FROM gone")


def test_a_view_whose_table_was_dropped_says_so(road: vql.Connection) -> None:
    road.execute("CREATE VIEW v AS SELECT frame_id FROM intersection")
    road.execute("DROP VIDEO TABLE intersection")
    with pytest.raises(vql.CatalogError, match="view 'v' reads unknown table 'intersection'"):
        road.execute("SELECT * FROM v")


@pytest.mark.parametrize(("sql", "error", "fragment"), [
    ("CREATE VIEW v AS SELECT * FROM v", vql.BindError, "view 'v' reads itself"),
    ("CREATE TEMP VIEW v AS SELECT frame_id FROM intersection", vql.BindError,
     "TEMP views over video tables are not supported"),
    ("CREATE VIEW intersection AS SELECT 1", vql.CatalogError, "is a video table"),
    ("CREATE VIEW v AS SELECT frame_id FROM intersection SAMPLE 1 FPS", vql.BindError,
     "a view keeps a query, not SAMPLE or a target"),
])
def test_views_that_cannot_be(road: vql.Connection, sql: str, error: type,
                              fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        road.execute(sql)


def test_a_view_that_reads_itself_is_refused(road: vql.Connection) -> None:
    road.execute("CREATE VIEW a AS SELECT frame_id FROM intersection")
    road.execute("CREATE VIEW b AS SELECT * FROM a")
    with pytest.raises(vql.BindError, match="reads itself"):
        road.execute("CREATE OR REPLACE VIEW a AS SELECT * FROM b")
    assert road.execute("SELECT count(*) FROM b").fetchall() == [(377,)]


def test_listings_can_be_queried(road: vql.Connection) -> None:
    udfs = road.execute("SELECT name FROM (SHOW FUNCTIONS) WHERE kind = 'udf' AND NOT stateful "
                        "ORDER BY name").fetchall()
    assert udfs == [("brightness",), ("detect",)]
    with_cte = road.execute("WITH f AS (SHOW FUNCTIONS) SELECT count(*) FROM f "
                            "WHERE origin = 'builtin'").fetchall()
    assert with_cte == [(len(road.execute("SHOW FUNCTIONS").fetchall()),)]
    tables = road.execute("SELECT name, frames FROM (SHOW TABLES) WHERE kind = 'video'")
    assert tables.fetchall() == [("intersection", 377)]
    columns = road.execute("SELECT column_name FROM (DESCRIBE intersection) "
                           "WHERE column_type = 'DOUBLE'").fetchall()
    assert columns == [("ts",), ("fps",), ("duration",)]


def test_create_table_and_insert_from_a_sampled_query(road: vql.Connection) -> None:
    road.execute("CREATE TABLE s AS SELECT frame_id, brightness FROM intersection SAMPLE 1 FPS")
    road.execute("INSERT INTO s SELECT frame_id, brightness FROM intersection SAMPLE 2 FPS")
    assert road.execute("SELECT count(*), count(DISTINCT frame_id) FROM s").fetchall() == [
        (31 + 61, 61)]
