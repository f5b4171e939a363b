"""Binding: names resolved against the catalog with suggestions, options lifted, arguments checked."""

from __future__ import annotations

import pytest

import vql


@pytest.mark.parametrize(("sql", "error", "fragment"), [
    ("SELECT ts FROM rooom", vql.CatalogError, "unknown table 'rooom' (did you mean 'room'?)"),
    ("SELECT tss FROM room", vql.BindError, "unknown column 'tss' (did you mean 'ts'?)"),
    ("SELECT room.frameid FROM room", vql.BindError, "did you mean 'frame_id'?"),
    ("SELECT congestd FROM room", vql.BindError, "did you mean 'congested'?"),
    ("SELECT has_objct(frame, 'person') FROM room", vql.BindError,
     "unknown function 'has_objct' (did you mean 'has_object'?)"),
    ("SELECT detect(frame, 3) FROM room", vql.BindError, "argument 'model' must be str"),
    ("SELECT detect(frame, ts) FROM room", vql.BindError, "must be a constant"),
    ("SELECT detect(frame, 'a', 0.5, 'b', 'c') FROM room", vql.BindError,
     "takes at most 4 arguments"),
    ("SELECT detect(frame, 'fastestdet', 'b') FROM room", vql.BindError,
     "argument 'conf' must be float"),
    ("SELECT count_objects(frame) FROM room", vql.BindError, "argument 'label' is missing"),
    ("SELECT frame + 1 FROM room", vql.BindError, "'frame' can only be passed"),
    ("SELECT brightness(ts) FROM room", vql.BindError, "needs the frame column"),
    ("SELECT 1 SAMPLE 1 FPS", vql.BindError, "SAMPLE applies to video tables"),
    ("SELECT ts FROM room WITH ACCURACY 1.5", vql.BindError, "between 0 and 1"),
    ("SELECT ts FROM room SAMPLE 0 FPS", vql.BindError, "positive rate"),
    ("DESCRIBE roon", vql.CatalogError, "did you mean 'room'?"),
    ("DROP VIDEO TABLE rom", vql.CatalogError, "unknown video table 'rom' (did you mean 'room'?)"),
])
def test_bad_names_and_arguments_are_clear_errors(room: vql.Connection, sql: str,
                                                  error: type, fragment: str) -> None:
    with pytest.raises(error) as raised:
        room.execute(sql)
    assert fragment in str(raised.value)
    assert isinstance(raised.value, vql.ProgrammingError)


def test_unknown_column_points_at_it(room: vql.Connection) -> None:
    with pytest.raises(vql.BindError) as raised:
        room.execute("SELECT frame_id,\n       tss FROM room")
    assert raised.value.position is not None
    assert (raised.value.position.line, raised.value.position.column) == (2, 8)
    assert raised.value.caret().splitlines()[1] == "       ^^^"


def test_derived_column_names_the_output_after_what_was_written(room: vql.Connection) -> None:
    cur = room.execute("SELECT frame_id, brightness, brightness(frame) AS b2, "
                       "has_object(frame, 'person') FROM room LIMIT 1")
    assert [d[0] for d in cur.description or ()] == [
        "frame_id", "brightness", "b2", "has_object(frame, 'person')"]
    (_, b1, b2, _), = cur.fetchall()
    assert b1 == b2


def test_qualified_derived_column_in_a_self_join(room: vql.Connection) -> None:
    rows = room.execute("""SELECT a.frame_id, round(a.brightness - b.brightness, 6)
                           FROM room a JOIN room b ON b.frame_id = a.frame_id + 1
                           WHERE a.frame_id < 3 AND b.frame_id < 4 ORDER BY 1""").fetchall()
    assert [r[0] for r in rows] == [0, 1, 2]


def test_unqualified_derived_column_in_a_join_is_ambiguous(room: vql.Connection) -> None:
    with pytest.raises(vql.BindError, match="ambiguous"):
        room.execute("SELECT brightness FROM room a JOIN room b ON a.frame_id = b.frame_id")


def test_select_star_hides_internal_columns(room: vql.Connection) -> None:
    cur = room.execute("SELECT * FROM room WHERE brightness > 0 LIMIT 1")
    names = [d[0] for d in cur.description or ()]
    assert names == ["video_id", "path", "frame_id", "ts", "fps", "width", "height", "duration",
                     "computed"]


def test_parameters_bind_values_to_udf_arguments_and_predicates(room: vql.Connection) -> None:
    rows = room.execute("SELECT frame_id FROM room WHERE frame_id BETWEEN ? AND ? "
                        "AND NOT has_object(frame, ?)", [0, 3, "person"]).fetchall()
    assert rows == [(0,), (1,), (2,), (3,)]


def test_parameter_count_must_match(room: vql.Connection) -> None:
    with pytest.raises(vql.ProgrammingError, match="2 parameter markers but 1"):
        room.execute("SELECT ? + ?", [1])


def test_options_are_lifted_and_shown_by_explain(room: vql.Connection) -> None:
    lines = [r[0] for r in room.execute(
        "EXPLAIN SELECT brightness FROM room SAMPLE 2 FPS WITH LATENCY 500ms AND ACCURACY 0.9"
    ).fetchall()]
    assert "SAMPLE 2 FPS (by presentation time)" in lines
    assert "LATENCY 0.5 s" in lines and "ACCURACY 0.9" in lines
    lines = [r[0] for r in room.execute(
        "EXPLAIN SELECT count(*) FROM room WITH LATENCY 500ms").fetchall()]
    assert any(line.startswith("note: target WITH LATENCY 0.5 s was not optimized for: the "
                               "query calls no frame function") for line in lines)


def test_explain_prints_logical_optimized_and_physical_plans(room: vql.Connection) -> None:
    text = "\n".join(r[0] for r in room.execute(
        "EXPLAIN SELECT frame_id FROM room WHERE has_object(frame, 'person') AND ts < 30"))
    for heading in ("== Logical plan (reference) ==", "== Optimized logical plan ==",
                    "== Physical plan =="):
        assert heading in text
    assert "ApplyUDF detect(frame, 'fastestdet')" in text
    assert "Decode with PyAV in order, else decord" in text  # behind a model


def test_explain_analyze_runs_the_query(room: vql.Connection) -> None:
    text = "\n".join(r[0] for r in room.execute(
        "EXPLAIN ANALYZE SELECT brightness FROM room SAMPLE 1 FPS"))
    assert "rows returned: 140" in text and "frames_decoded: 140" in text


def test_a_function_keeps_the_parameter_values_it_was_created_with(
        road: vql.Connection) -> None:
    road.execute("CREATE FUNCTION bright AS brightness(frame) > ?", [0.1])
    (body,), = road.execute("SELECT body FROM vql_catalog.functions "
                            "WHERE name = 'bright'").fetchall()
    assert body == "brightness(frame) > 0.1"
    expected = road.execute("SELECT count(*) FROM intersection "
                            "WHERE brightness > 0.1 AND frame_id < 100").fetchall()
    # the later statement's parameter is its own, not the function's
    assert road.execute("SELECT count(*) FROM intersection WHERE bright AND frame_id < ?",
                        [100]).fetchall() == expected == [(100,)]


@pytest.mark.parametrize("sql", [
    "DELETE FROM vql_catalog.table_videos",
    "UPDATE vql_catalog.videos SET fps = 1",
    "DROP TABLE vql_catalog.frames",
    "INSERT INTO vql_catalog.video_tables VALUES ('x', now())",
    "ALTER TABLE vql_catalog.frames ADD COLUMN z INTEGER",
    "CREATE TABLE vql_catalog.mine (a INTEGER)",
    "TRUNCATE vql_catalog.frames",
])
def test_user_sql_cannot_change_the_catalog(room: vql.Connection, sql: str) -> None:
    with pytest.raises(vql.BindError, match="vql_catalog is VQL's catalog"):
        room.execute(sql)
    assert room.execute("SELECT count(*) FROM room").fetchall() == [(1394,)]
    assert room.execute("SELECT count(*) FROM vql_catalog.frames").fetchall() == [(1394,)]


def test_a_function_name_is_a_plain_identifier(room: vql.Connection) -> None:
    with pytest.raises(vql.CatalogError, match="use letters, digits and _"):
        room.execute('CREATE FUNCTION "g""h" AS brightness(frame) > 0.5')
    assert room.execute("SELECT 1").fetchall() == [(1,)]
