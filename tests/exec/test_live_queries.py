"""Queries over live tables (vql/exec/continuous.py): a shared video served on the loopback
interface in real time, queried as a camera would be, and held to the same query on the file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import vql
from vql.video.serve import free_port


@pytest.fixture
def cam(con: vql.Connection, serve, road_video: Path):
    """The road video as a live table ``cam`` (looping), and as the table of files ``road``."""
    sender = serve(road_video)
    con.execute(f"CREATE VIDEO TABLE cam FROM '{sender.url}'")
    con.execute(f"LOAD VIDEO '{road_video}' INTO road")
    return sender


def _live_threads() -> int:
    return sum(th.name.startswith(("vql-live", "vql-pipeline")) for th in threading.enumerate())


def test_a_live_congestion_query_gives_the_files_rows_as_the_video_plays(
        con: vql.Connection, cam) -> None:
    cursor = con.execute("SELECT frame_id, ts, vehicle_count, congested FROM cam LIMIT 40")
    arrivals, rows = [], []
    for row in cursor:
        rows.append(row)
        arrivals.append(time.monotonic())
    exact = con.execute("SELECT frame_id, ts, vehicle_count, congested FROM road "
                        "WHERE frame_id < 40 ORDER BY frame_id").fetchall()
    assert [r[0] for r in rows] == list(range(40))
    assert [r[2:] for r in rows] == [r[2:] for r in exact]  # the same counts, frame by frame
    assert [r[1] for r in rows] == pytest.approx([r[1] for r in exact], abs=1e-3)
    assert arrivals[-1] - arrivals[0] > 1.5  # rows came as the 3.2 s of video played
    assert cursor.streams["cam"].frames_dropped == 0
    assert cursor.streams["cam"].percentile(0.5) < 1.0


def test_describe_and_show_tables_say_a_table_is_live(con: vql.Connection, cam) -> None:
    tables = {r[0]: r for r in con.execute("SHOW TABLES").fetchall()}
    columns = [d[0] for d in con.execute("SHOW TABLES").description]
    live = dict(zip(columns, tables["cam"]))
    assert (live["kind"], live["source"], live["fps"], live["width"], live["height"]) == \
        ("live", cam.url, 12.5, 768, 432)
    described = {r[0]: r[2] for r in con.execute("DESCRIBE cam").fetchall()}
    assert "12.5 when probed" in described["fps"] and "URL" in described["path"]
    plan = "\n".join(r[0] for r in con.execute("EXPLAIN SELECT frame_id FROM cam").fetchall())
    assert f"LiveScan cam: {cam.url}" in plan


def test_rows_stream_to_fetchmany_and_record_batches(con: vql.Connection, cam) -> None:
    cursor = con.execute("SELECT frame_id FROM cam WHERE frame_id % 2 = 0")
    assert cursor.fetchmany(3) == [(0,), (2,), (4,)]  # it waits for the rows to come
    reader = cursor.fetch_record_batches()
    first = next(iter(reader))
    assert first.num_rows >= 1 and first.column(0)[0].as_py() >= 6
    cursor.close()  # an endless query ends when its cursor closes
    deadline = time.monotonic() + 10
    while _live_threads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_threads() == 0
    events = con.execute("SELECT event FROM vql_catalog.stream_events "
                         "WHERE table_name = 'cam'").fetchall()
    assert ("connected",) in events


def test_the_progress_handler_cancels_a_live_query(con: vql.Connection, cam) -> None:
    calls = []
    con.set_progress_handler(lambda progress: calls.append(progress) or progress.frames_done >= 10,
                             0.2)
    cursor = con.execute("SELECT frame_id FROM cam")
    with pytest.raises(vql.QueryCanceledError):
        cursor.fetchall()
    assert calls[-1].frames_done >= 10 and calls[-1].frames_total == 0  # no end
    con.set_progress_handler(None)
    assert con.execute("SELECT count(*) FROM road").fetchone() == (377,)  # it goes on


def test_another_statement_on_the_connection_ends_a_live_query(con: vql.Connection,
                                                                cam) -> None:
    live = con.cursor().execute("SELECT frame_id FROM cam")
    assert live.fetchone() == (0,)
    assert con.execute("SELECT 42").fetchone() == (42,)  # does not wait for the stream's end
    assert live.fetchall() == []


@pytest.mark.parametrize("sql, words", [
    ("SELECT frame_id FROM cam ORDER BY ts", "ORDER BY over a live table needs a window"),
    ("SELECT width, count(*) FROM cam GROUP BY width", "needs a window of time among its keys"),
    ("SELECT floor(ts), count(*) FROM cam GROUP BY 1 UNION ALL SELECT 1, 1 FROM road",
     "reads it alone"),
    ("SELECT count(*) FROM cam", r"COUNT\(\*\) over a live table"),
    ("SELECT DISTINCT width FROM cam", "DISTINCT over a live table"),
    ("SELECT frame_id, lag(ts) OVER () FROM cam", "over a live table"),
    ("SELECT * FROM cam JOIN road USING (frame_id)", "a join of a live table"),
    ("SELECT * FROM (SELECT frame_id FROM cam LIMIT 3)", "LIMIT inside a subquery"),
])
def test_what_needs_the_end_of_a_stream_is_refused_before_it_connects(
        con: vql.Connection, cam, sql: str, words: str) -> None:
    cam.kill()  # refused before any connection is tried
    with pytest.raises(vql.NotSupportedError, match=words):
        con.execute(sql)
    assert _live_threads() == 0


def test_a_stalled_stream_does_not_hold_back_another(con: vql.Connection, serve, cam,
                                                     room_video: Path) -> None:
    import signal

    other = serve(room_video)
    con.execute(f"CREATE VIDEO TABLE door FROM '{other.url}'")
    cursor = con.execute("SELECT 'cam' AS camera, frame_id FROM cam "
                         "UNION ALL SELECT 'door', frame_id FROM door")
    seen: dict[str, int] = {"cam": 0, "door": 0}
    while min(seen.values()) < 5:
        camera, _ = cursor.fetchone()
        seen[camera] += 1
    assert cam.process is not None
    cam.process.send_signal(signal.SIGSTOP)  # the road camera hangs
    time.sleep(0.5)
    started, doors = time.monotonic(), 0
    while doors < 20:  # the door camera's 2 s of video come on time
        camera, _ = cursor.fetchone()
        doors += camera == "door"
    assert time.monotonic() - started < 4.0
    cursor.close()


def test_creating_a_live_table_that_never_connects_is_one_error(monkeypatch) -> None:
    monkeypatch.setenv("VQL_CONNECT_TIMEOUT", "1")
    with vql.connect() as con:
        with pytest.raises(vql.VideoError, match="could not connect to the stream within 1 s"):
            con.execute(f"CREATE VIDEO TABLE cam FROM 'tcp://127.0.0.1:{free_port()}'")
        assert con.execute("SHOW TABLES").fetchall() == []


def test_windows_of_time_emit_as_they_close_with_the_files_answers(con: vql.Connection,
                                                                   cam) -> None:
    cursor = con.execute("SELECT floor(ts / 2) AS span, count(*) AS frames, "
                         "max(vehicle_count) AS most, min(frame_id) AS first FROM cam "
                         "GROUP BY span ORDER BY span LIMIT 3")
    rows = cursor.fetchall()
    exact = con.execute("SELECT floor(ts / 2) AS span, count(*) AS frames, "
                        "max(vehicle_count) AS most, min(frame_id) AS first FROM road "
                        "WHERE ts < 6 GROUP BY span ORDER BY span").fetchall()
    assert rows == exact == [(0.0, 25, exact[0][2], 0), (1.0, 25, exact[1][2], 25),
                             (2.0, 25, exact[2][2], 50)]


def test_a_window_is_emitted_once_its_window_has_passed(con: vql.Connection, cam) -> None:
    cursor = con.execute("SELECT time_bucket(INTERVAL '1 second', to_timestamp(ts)) AS second, "
                         "count(*) AS frames FROM cam GROUP BY ALL")
    started = time.monotonic()
    first = cursor.fetchone()
    waited = time.monotonic() - started
    assert first[1] in (12, 13)  # one second of video at 12.5 fps
    assert waited > 0.9  # not before the second had passed
    assert cursor.fetchone()[1] in (12, 13)
    cursor.close()


def test_insert_from_a_live_table_commits_each_window(tmp_path: Path, serve,
                                                      road_video: Path) -> None:
    sender = serve(road_video)
    database = str(tmp_path / "alerts.duckdb")
    writer, reader = vql.connect(database), vql.connect(database)
    writer.execute(f"CREATE VIDEO TABLE cam FROM '{sender.url}'")
    writer.execute("CREATE TABLE alerts (span DOUBLE, frames BIGINT, most INTEGER)")
    seen: list[list[tuple]] = []

    def watch(_progress) -> bool:
        seen.append(reader.execute("SELECT * FROM alerts ORDER BY span").fetchall())
        return len(seen[-1]) >= 2  # cancel once another connection reads two windows

    writer.set_progress_handler(watch, 0.2)
    with pytest.raises(vql.QueryCanceledError):
        writer.execute("INSERT INTO alerts SELECT floor(ts / 2), count(*), max(vehicle_count) "
                       "FROM cam GROUP BY 1")
    assert [len(s) for s in seen][0] == 0
    writer.set_progress_handler(None)
    kept = reader.execute("SELECT span, frames FROM alerts ORDER BY span").fetchall()
    assert kept[:2] == [(0.0, 25), (1.0, 25)]  # committed windows survive the cancel
    writer.close()
    reader.close()
