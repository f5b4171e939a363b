"""Progress of a running query: reported to a handler, and a handler can cancel cleanly."""

from __future__ import annotations

import io

import pytest

import vql
from vql.exec.progress import Progress, ProgressReporter
from vql.shell.repl import Shell


def test_the_handler_sees_frames_done_rise_to_the_total(road: vql.Connection) -> None:
    seen: list[Progress] = []
    road.set_progress_handler(seen.append, interval=0)
    assert road.execute("SELECT avg(brightness) FROM intersection").fetchall()
    done = [p.frames_done for p in seen]
    assert done == sorted(done) and done[-1] == 377
    assert {p.frames_total for p in seen} == {377}
    assert seen[-1].fraction == 1.0 and seen[-1].rate > 0 and seen[-1].eta_s == 0
    road.set_progress_handler(None)
    seen.clear()
    road.execute("SELECT avg(brightness) FROM intersection").fetchall()
    assert seen == []


def test_a_handler_that_returns_true_cancels_and_the_connection_stays_usable(
        road: vql.Connection) -> None:
    road.autocommit = False
    road.set_progress_handler(lambda p: p.frames_done >= 64, interval=0)
    with pytest.raises(vql.QueryCanceledError, match="cancelled by its progress handler"):
        road.execute("CREATE TABLE b AS SELECT frame_id, brightness FROM intersection").fetchall()
    road.set_progress_handler(None)
    assert road.execute("SELECT count(*) FROM intersection").fetchall() == [(377,)]
    tables = road.execute("SELECT table_name FROM information_schema.tables "
                          "WHERE table_name = 'b'").fetchall()
    assert tables == []  # nothing half-written


def test_rate_and_time_left_from_a_fake_clock() -> None:
    now = [0.0]
    seen: list[Progress] = []
    reporter = ProgressReporter(seen.append, 1.0, total=1000, clock=lambda: now[0])
    for _ in range(4):
        now[0] += 0.5
        reporter.advance(100)
    assert [p.frames_done for p in seen] == [200, 400]  # at most once a second
    assert seen[-1].rate == pytest.approx(200.0)
    assert seen[-1].eta_s == pytest.approx(3.0)
    assert "400/1000 frames (40%), 200 frames/s, about 3 s left" in seen[-1].describe()


def test_the_shell_draws_progress_on_a_terminal(road: vql.Connection) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    shell = Shell(road, out, err)
    assert shell.run_sql("SELECT avg(brightness) FROM intersection")
    assert "377/377 frames (100%)" in err.getvalue()
    assert err.getvalue().endswith("\r\x1b[K")  # the line is cleared before the result
    assert "frames" not in out.getvalue()
    plain = Shell(road, io.StringIO(), io.StringIO())  # not a terminal: no progress
    assert plain.run_sql("SELECT avg(brightness) FROM intersection")
