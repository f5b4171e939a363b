"""Which columns of a result a lossy plan is scored on, and what its accuracy profile is keyed
by (bound plans over the road video; nothing is decoded)."""

from __future__ import annotations

import pytest

import vql
from vql.accuracy import result_shape, scored_positions
from vql.bind.binder import Binder
from vql.plan.nodes import Relational
from vql.sql.parse import parse_one
from vql.tune.clips import pipeline_key


def bound(con: vql.Connection, sql: str) -> Relational:
    engine = con.engine
    return Binder(engine.catalog, engine.registry, ()).bind(parse_one(sql)).plan


@pytest.mark.parametrize(("sql", "shape", "positions"), [
    # frame_id, ts and path are the same in every plan: only congested is scored
    ("SELECT frame_id, congested, ts, path FROM intersection", "per_frame", (1,)),
    ("SELECT frame_id, computed, vehicle_count FROM intersection", "per_frame", (2,)),
    # through a subquery, a CTE and a window over a function's value
    ("SELECT f, frame_id FROM (SELECT frame_id, vehicle_count AS f FROM intersection) t",
     "per_frame", (0,)),
    ("WITH c AS (SELECT frame_id, congested AS busy FROM intersection) "
     "SELECT frame_id, busy, lag(busy) OVER (ORDER BY frame_id) AS before, 3 AS k FROM c",
     "per_frame", (1, 2)),
    # an aggregate of plain columns over rows a function chose or grouped is fed by it
    ("SELECT count(*), avg(ts) FROM intersection WHERE congested", "aggregate", (0, 1)),
    ("SELECT congested, count(*) AS n FROM intersection GROUP BY congested", "aggregate",
     (0, 1)),
    ("SELECT video_id, avg(vehicle_count) FROM intersection GROUP BY video_id", "aggregate",
     (1,)),
    ("SELECT * FROM intersection WHERE congested", "selection", None),  # scored whole
    # rows chosen by a function's value: by the top of an order, DISTINCT ON, a subquery's
    # column (the result's own columns are plain: the rows are what is scored)
    ("SELECT frame_id FROM intersection ORDER BY brightness(frame) DESC LIMIT 5", "selection",
     ()),
    ("SELECT DISTINCT ON (brightness(frame) > 0.45) frame_id FROM intersection", "selection",
     ()),
    ("SELECT x.frame_id FROM (SELECT frame_id, brightness(frame) AS b FROM intersection) x "
     "ORDER BY x.b LIMIT 3", "selection", ()),
    # tracks: the rows are made by track's values (UNNEST) and grouped by its ids, so a count
    # of them is fed by it
    ("SELECT count(*) FROM tracks(intersection, 'vehicle')", "aggregate", (0,)),
    ("SELECT count(*) FROM (SELECT unnest(track(frame, 'vehicle')) AS o FROM intersection)",
     "aggregate", (0,)),
    # a list of tracks (ids with their times or paths) is scored by identity F1
    ("SELECT track_id, first_ts, last_ts FROM tracks(intersection, 'vehicle') "
     "ORDER BY first_ts", "tracks", (0, 1, 2)),
    ("SELECT * FROM tracks(intersection, 'vehicle')", "tracks", None),
    ("SELECT track_id, path FROM tracks(intersection, 'vehicle') "
     "WHERE crossings(path, 0, 216, 768, 216) = 1", "tracks", (0, 1)),
    # ids without times: the rows are what is scored
    ("SELECT track_id, dwell(path, [[0, 0], [9, 0], [9, 9]]) FROM tracks(intersection, "
     "'vehicle')", "selection", (0, 1)),
])
def test_scored_columns(road: vql.Connection, sql: str, shape: str,
                        positions: tuple[int, ...] | None) -> None:
    plan = bound(road, sql)
    assert result_shape(plan) == shape
    assert scored_positions(plan) == positions


def test_columns_no_function_feeds_do_not_change_the_profile_key(road: vql.Connection) -> None:
    key = pipeline_key(bound(road, "SELECT frame_id, congested FROM intersection"))
    assert pipeline_key(bound(road, "SELECT congested, ts, path, 1 AS one FROM intersection")) \
        == key
    assert pipeline_key(bound(road, "SELECT frame_id, vehicle_count FROM intersection")) != key
    assert pipeline_key(bound(road, "SELECT frame_id, congested(frame, 3) FROM intersection")) \
        != key


def test_a_function_in_a_join_condition_chooses_rows(road: vql.Connection) -> None:
    road.execute("CREATE TABLE p AS SELECT 5 AS fid, 'a' AS name")
    plan = bound(road, "SELECT p.name FROM p JOIN intersection r ON r.frame_id = p.fid "
                       "AND brightness(r.frame) > 0.449")
    assert result_shape(plan) == "selection"


def test_queries_whose_meaning_depends_on_every_column_keep_their_own_key(
        road: vql.Connection) -> None:
    pairs = [("SELECT video_id, avg(brightness(frame)) FROM intersection GROUP BY ALL",
              "SELECT frame_id // 100, avg(brightness(frame)) FROM intersection GROUP BY ALL"),
             ("SELECT frame_id, brightness FROM intersection ORDER BY 1 DESC LIMIT 5",
              "SELECT ts, brightness FROM intersection ORDER BY 1 DESC LIMIT 5")]
    for one, other in pairs:
        assert pipeline_key(bound(road, one)) != pipeline_key(bound(road, other))
