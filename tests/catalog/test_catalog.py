"""The DuckDB catalog: video tables, persistence, history, and bad input leaving it unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from vql.catalog.schema import SCHEMA_VERSION

import vql


def snapshot(con: vql.Connection) -> list[tuple]:
    return con.execute("""SELECT (SELECT count(*) FROM vql_catalog.videos), (SELECT count(*) FROM
                          vql_catalog.frames), (SELECT count(*) FROM vql_catalog.video_tables),
                          (SELECT count(*) FROM vql_catalog.table_videos)""").fetchall()


def test_load_records_video_metadata(room: vql.Connection, room_video: Path) -> None:
    (path, fps, frames, width, height, duration, codec, keyframes), = room.execute(
        "SELECT path, fps, frames, width, height, duration, codec, keyframes "
        "FROM vql_catalog.videos").fetchall()
    assert path == str(room_video.resolve())
    assert (fps, frames, width, height, codec) == (10.0, 1394, 768, 432, "h264")
    assert abs(duration - 139.4) < 0.01
    assert keyframes[:3] == [0, 10, 20]  # a keyframe every 10 frames (shared/README.md)


def test_loading_the_same_file_twice_does_not_duplicate_it(room: vql.Connection,
                                                           room_video: Path) -> None:
    (added,), = room.execute("LOAD VIDEO ? INTO room", [str(room_video)]).fetchall()[:1] and \
        [(room.execute("LOAD VIDEO ? INTO room", [str(room_video)]).rowcount,)]
    assert added == 0
    assert room.execute("SELECT count(*) FROM room").fetchall() == [(1394,)]


def test_a_glob_loads_many_videos_into_one_table(con: vql.Connection, videos: Path) -> None:
    cur = con.execute("CREATE VIDEO TABLE allvideos FROM ?", [str(videos / "*.mp4")])
    assert cur.fetchall() == [("allvideos", 3, 3, 1394 + 377 + 1189)]
    rows = con.execute("SELECT video_id, count(*) FROM allvideos GROUP BY 1 ORDER BY 1"
                       ).fetchall()
    assert sorted(n for _, n in rows) == [377, 1189, 1394]


def test_create_video_table_twice_is_an_error(room: vql.Connection, room_video: Path) -> None:
    with pytest.raises(vql.CatalogError, match="already exists"):
        room.execute("CREATE VIDEO TABLE room FROM ?", [str(room_video)])


def bad_inputs(tmp_path: Path, real: Path) -> dict[str, str]:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is not a video\n")
    (tmp_path / "truncated.mp4").write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    return {
        "missing": str(tmp_path / "missing.mp4"),
        "empty": str(tmp_path / "empty.mp4"),
        "text": str(tmp_path / "text.mp4"),
        "truncated": str(tmp_path / "truncated.mp4"),
        "glob": str(tmp_path / "nothing" / "*.mp4"),
    }


@pytest.mark.parametrize(("kind", "message"), [
    ("missing", "no such file"),
    ("empty", "the file is empty"),
    ("text", "not a decodable video"),
    ("truncated", "damaged or cut short"),
    ("glob", "the glob matches no file"),
])
@pytest.mark.parametrize("statement", ["LOAD VIDEO ? INTO room", "CREATE VIDEO TABLE other FROM ?"])
def test_bad_input_is_one_clear_error_and_the_catalog_is_unchanged(
        room: vql.Connection, room_video: Path, tmp_path: Path, kind: str, message: str,
        statement: str) -> None:
    before = snapshot(room)
    with pytest.raises(vql.VideoError, match=message) as raised:
        room.execute(statement, [bad_inputs(tmp_path, room_video)[kind]])
    assert isinstance(raised.value, vql.DataError)
    assert snapshot(room) == before


def test_one_bad_file_in_a_glob_loads_nothing(con: vql.Connection, road_video: Path,
                                              tmp_path: Path) -> None:
    shutil.copy(road_video, tmp_path / "a.mp4")
    (tmp_path / "b.mp4").write_text("not a video")
    before = snapshot(con)
    with pytest.raises(vql.VideoError, match="b.mp4"):
        con.execute("LOAD VIDEO ? INTO clips", [str(tmp_path / "*.mp4")])
    assert snapshot(con) == before


def test_a_changed_file_is_detected_at_query_time(con: vql.Connection, road_video: Path,
                                                  tmp_path: Path) -> None:
    copy = tmp_path / "road.mp4"
    shutil.copy(road_video, copy)
    con.execute("LOAD VIDEO ? INTO road", [str(copy)])
    with copy.open("ab") as handle:
        handle.write(b"\0" * 10)
    with pytest.raises(vql.VideoError, match="changed since it was loaded"):
        con.execute("SELECT count(*) FROM road WHERE brightness > 0").fetchall()
    con.execute("LOAD VIDEO ? INTO road", [str(copy)])  # refreshes the catalog
    assert con.execute("SELECT count(*) FROM road").fetchall() == [(377,)]


def test_drop_video_table_removes_its_videos(room: vql.Connection) -> None:
    room.execute("DROP VIDEO TABLE room")
    assert snapshot(room) == [(0, 0, 0, 0)]
    room.execute("DROP VIDEO TABLE IF EXISTS room")
    with pytest.raises(vql.CatalogError):
        room.execute("SELECT * FROM room")


def test_describe_and_show_tables(room: vql.Connection) -> None:
    room.execute("CREATE TABLE notes (t DOUBLE, text VARCHAR)")
    assert room.execute("SHOW TABLES").fetchall() == [
        ("notes", "table", None, None, None, None, None, None, None),
        ("room", "video", 1, 1394, 0, None, None, None, None)]  # the last four: live tables
    columns = [r[0] for r in room.execute("DESCRIBE room").fetchall()]
    assert columns == ["video_id", "path", "frame_id", "ts", "fps", "width", "height",
                       "duration", "computed", "frame"]
    assert [r[0] for r in room.execute("DESCRIBE notes").fetchall()] == ["t", "text"]


def test_catalog_and_plain_tables_persist_in_a_file(tmp_path: Path, room_video: Path) -> None:
    database = str(tmp_path / "vql.duckdb")
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO room", [str(room_video)])
        con.execute("CREATE TABLE labels AS SELECT 1 AS frame_id, 'first' AS label")
    with vql.connect(database) as con:
        rows = con.execute("SELECT r.ts, l.label FROM room r JOIN labels l USING (frame_id)"
                           ).fetchall()
        assert rows == [(0.1, "first")]
        history = con.execute("SELECT sql, status FROM vql_catalog.query_history ORDER BY query_id"
                              ).fetchall()
        assert ("LOAD VIDEO $1 INTO room", "ok") in history


def test_history_records_errors(con: vql.Connection) -> None:
    with pytest.raises(vql.CatalogError):
        con.execute("SELECT * FROM nowhere")
    rows = con.execute("SELECT sql, status, error FROM vql_catalog.query_history "
                       "WHERE status = 'error'").fetchall()
    assert rows and rows[-1][0] == "SELECT * FROM nowhere" and "nowhere" in rows[-1][2]


@pytest.mark.parametrize("sql", ["CREATE TABLE room (a INTEGER)",
                                 "CREATE VIEW room AS SELECT 1",
                                 "CREATE TABLE room AS SELECT 1 AS a"])
def test_plain_tables_cannot_shadow_a_video_table(room: vql.Connection, sql: str) -> None:
    with pytest.raises(vql.CatalogError, match="'room' is a video table"):
        room.execute(sql)


def test_a_version_3_catalog_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with vql.connect(path) as con:  # make it look like a catalog written by version 3
        con.engine.duck.execute("ALTER TABLE vql_catalog.accuracy_profiles DROP COLUMN config")
        con.engine.duck.execute("UPDATE vql_catalog.meta SET value = '3' WHERE key = 'schema_version'")
        con.commit()
    with vql.connect(path) as con:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'accuracy_profiles'").fetchall()]
        assert columns[-1] == "config"
        assert con.execute("SELECT value FROM vql_catalog.meta "
                           "WHERE key = 'schema_version'").fetchall() == [(str(SCHEMA_VERSION),)]


def test_two_connections_cannot_make_the_same_name_twice(tmp_path: Path,
                                                         road_video: Path) -> None:
    """Names have no constraint (schema.py says why): two connections creating the same
    table or function at once conflict, and the later one is told to run it again."""
    database = str(tmp_path / "both.duckdb")
    # two open transactions (with autocommit the second connection would see the first's
    # table and load into it)
    first = vql.connect(database, autocommit=False)
    second = vql.connect(database, autocommit=False)
    first.execute("LOAD VIDEO ? INTO newtab", [str(road_video)])
    with pytest.raises(vql.ConcurrentChangeError, match="run the statement again"):
        second.execute("LOAD VIDEO ? INTO newtab", [str(road_video)])
    first.execute("CREATE FUNCTION fa AS brightness(frame) > 0.1")
    with pytest.raises(vql.ConcurrentChangeError):
        second.execute("CREATE FUNCTION fa AS brightness(frame) > 0.2")
    first.commit()
    assert second.execute("SELECT 1").fetchall() == [(1,)]  # still usable
    second.commit()
    second.execute("LOAD VIDEO ? INTO newtab", [str(road_video)])  # now sees it: no duplicate
    second.commit()
    for con in (first, second):
        con.commit()
    with vql.connect(database) as con:
        assert con.execute("SELECT name FROM vql_catalog.video_tables").fetchall() == \
            [("newtab",)]
        assert con.execute("SELECT name, body FROM vql_catalog.functions").fetchall() == \
            [("fa", "brightness(frame) > 0.1")]
        assert con.execute("SELECT count(*) FROM newtab").fetchall() == [(377,)]
    first.close()
    second.close()
