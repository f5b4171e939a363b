"""Measurements, cached values and history are committed apart from the user's transaction
(catalog/apart.py): concurrent readers do not abort each other, and ROLLBACK keeps them
(issue 12, item 4)."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

import vql
from vql.settings import Settings

QUERIES = ("SELECT avg(brightness) FROM intersection SAMPLE 5 FPS",
           "SELECT avg(brightness) FROM intersection SAMPLE 3 FPS")


def test_concurrent_readers_of_one_database_all_succeed(tmp_path: Path, road_video: Path) -> None:
    """Three connections in three threads run the same sampled queries at once and commit:
    they all cache the same frames, and before, two of three failed with 'Conflict on
    update!' and an aborted transaction."""
    database = str(tmp_path / "shared.duckdb")
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
        con.commit()
    start = threading.Barrier(3)
    answers: dict[int, list[float]] = {}
    failures: list[str] = []

    def reader(number: int) -> None:
        with vql.connect(database) as con:
            try:
                rows: list[float] = []
                for sql in QUERIES:
                    start.wait()
                    rows += [row[0] for row in con.execute(sql).fetchall()]
                    con.commit()
                answers[number] = rows
            except vql.Error as error:
                failures.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert failures == []
    assert len(answers) == 3
    assert answers[1] == pytest.approx(answers[0]) and answers[2] == pytest.approx(answers[0])
    with vql.connect(database) as con:  # the cache holds each frame once
        assert con.execute("SELECT count(*) FROM intersection WHERE brightness > 0 SAMPLE 5 FPS"
                           ).stats.frames_decoded == 0


def test_a_rollback_keeps_cached_values_and_measurements(tmp_path: Path,
                                                          road_video: Path) -> None:
    with vql.connect(str(tmp_path / "kept.duckdb")) as con:
        con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
        con.commit()
        con.execute(QUERIES[0]).fetchall()
        con.execute("SELECT avg(brightness) FROM intersection WITH ACCURACY 0.8").fetchall()
        con.rollback()
        cur = con.execute(QUERIES[0])
        cur.fetchall()
        assert cur.stats is not None and cur.stats.frames_decoded == 0  # all from the cache
        con.commit()
        assert con.execute("SELECT count(*) > 0 FROM vql_catalog.accuracy_profiles").fetchall() \
            == [(True,)]
        assert con.execute("SELECT count(*) FROM vql_catalog.query_history WHERE sql LIKE "
                           "'%ACCURACY 0.8%'").fetchall() == [(1,)]


def test_what_is_written_apart_does_not_fight_the_users_transaction(
        tmp_path: Path, road_video: Path, room_video: Path) -> None:
    """Within one open transaction: DROP of a table whose profiles the other connection
    rewrote aborted the transaction ('Conflict on tuple deletion'); caching a second table's
    values evicted the first's as orphans (their table was not committed yet)."""
    with vql.connect(str(tmp_path / "t.duckdb"), settings=dataclasses.replace(
            Settings.from_env(), cache_mb=1024)) as con:
        con.execute("LOAD VIDEO ? INTO a", [str(road_video)])
        con.execute("LOAD VIDEO ? INTO b", [str(room_video)])
        con.execute("SELECT avg(brightness) FROM a").fetchall()
        con.execute("SELECT avg(brightness) FROM b").fetchall()
        again = con.execute("SELECT avg(brightness) FROM a")
        again.fetchall()
        assert again.stats is not None and again.stats.frames_reused == 377
        con.execute("ANALYZE a")
        con.commit()
        con.execute("ANALYZE a")
        con.execute("DROP VIDEO TABLE a")
        con.commit()
        assert con.execute("SELECT count(*) FROM vql_catalog.profiles WHERE table_name = 'a'"
                           ).fetchall() == [(0,)]
