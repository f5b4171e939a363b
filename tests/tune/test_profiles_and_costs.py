"""ANALYZE measures costs into the catalog; the cost model and the filter order use them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from vql.catalog import Profile

import vql
from vql.physical.cost import best_batch_size, decode_pattern, estimate, sampled_frames
from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    Filter,
    Limit,
    PlanNode,
    Project,
    Sample,
    UDFCall,
    VideoScan,
)


def test_analyze_measures_decoding_and_functions(room: vql.Connection) -> None:
    cur = room.execute("ANALYZE room")
    every = cur.fetchall()
    rows = {(r[0], r[1], r[3]): r for r in every if r[2] == "native"}
    assert rows[("decode", "sequential", 1)][6] == "measured"
    assert rows[("decode", "seek", 1)][4] > 0
    assert rows[("detect", "('fastestdet',)", 16)][4] > 1  # milliseconds per frame
    assert all(row[6] == "measured" for row in every)
    assert {r[2] for r in every} == {"native", "0.5x", "0.25x"}  # every decode resolution
    half = {(r[0], r[1]): r[4] for r in every if r[2] == "0.5x"}
    assert half[("decode", "sequential")] > 0 and half[("detect", "('fastestdet',)")] > 0
    stored = room.execute("SELECT count(*) FROM vql_catalog.profiles").fetchall()[0][0]
    assert stored == cur.rowcount == len(every)
    room.execute("ANALYZE room")  # measuring again replaces, it does not add
    assert room.execute("SELECT count(*) FROM vql_catalog.profiles").fetchall()[0][0] == stored


def test_explain_uses_measured_costs_after_analyze(room: vql.Connection) -> None:
    query = "EXPLAIN SELECT frame_id FROM room WHERE has_object(frame, 'person') SAMPLE 1 FPS"
    before = "\n".join(r[0] for r in room.execute(query))
    assert "[declared 15 ms/frame]" in before and "cost unknown: run ANALYZE room" in before
    room.execute("ANALYZE room")
    after = "\n".join(r[0] for r in room.execute(query))
    assert "ms/frame]" in after and "[measured " in after
    assert "decode (seek, native): 140 frames ×" in after and "pipeline time: about" in after


def test_profiles_persist_and_go_with_the_table(tmp_path: Path, road_video: Path) -> None:
    database = str(tmp_path / "p.duckdb")
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        con.execute("ANALYZE road")
    with vql.connect(database) as con:
        (n,), = con.execute("SELECT count(*) FROM vql_catalog.profiles WHERE table_name = "
                            "'road'").fetchall()
        assert n > 0
        con.execute("DROP VIDEO TABLE road")
        con.commit()  # profiles are dropped apart from the transaction, whose snapshot has them
        assert con.execute("SELECT count(*) FROM vql_catalog.profiles").fetchall() == [(0,)]


def test_analyze_of_a_plain_table_is_duckdbs(con: vql.Connection) -> None:
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    con.execute("ANALYZE t")  # DuckDB's statistics refresh; no VQL profile
    assert con.execute("SELECT count(*) FROM vql_catalog.profiles").fetchall() == [(0,)]


def test_a_function_that_cannot_run_is_reported_not_stored(road: vql.Connection,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("import pyarrow as pa, vql\n"
                    "@vql.udf(inputs=['frame'], returns=pa.int64())\n"
                    "def fails(frames):\n    raise RuntimeError('no')\n")
    road.execute("CREATE FUNCTION fails FROM ?", [str(path)])
    rows = {r[0]: r[6] for r in road.execute("ANALYZE intersection").fetchall()}
    assert rows["fails"] == "not profiled: RuntimeError: no"
    assert road.execute("SELECT count(*) FROM vql_catalog.profiles WHERE operator = 'fails'"
                        ).fetchall() == [(0,)]


SLOW = textwrap.dedent('''
    import time
    import pyarrow as pa
    import vql

    @vql.udf(inputs=["frame"], returns=pa.float64(), cost_ms=0.01)
    def slow_but_claims_cheap(frames):
        time.sleep(0.004 * len(frames))
        return [1.0] * len(frames)
''')


def test_measured_costs_reorder_filters(road: vql.Connection, tmp_path: Path) -> None:
    """The UDF declares 0.01 ms/frame but takes 4 ms: before ANALYZE the optimizer runs it
    first; after, the measured-cheaper brightness filter runs first and spares it frames."""
    path = tmp_path / "slow.py"
    path.write_text(SLOW)
    road.execute("CREATE FUNCTION slow_but_claims_cheap FROM ?", [str(path)])
    (median,), = road.execute("SELECT median(brightness) FROM intersection").fetchall()
    query = (f"SELECT count(*) FROM intersection WHERE slow_but_claims_cheap > 0 "
             f"AND brightness > {median}")
    before = road.execute(query)
    (count_before,), = before.fetchall()
    road.execute("ANALYZE intersection")
    after = road.execute(query)
    (count_after,), = after.fetchall()
    assert count_before == count_after  # the same answer
    assert before.stats is not None and after.stats is not None
    assert before.stats.udf_frames["slow_but_claims_cheap"] == 377
    assert after.stats.udf_frames["slow_but_claims_cheap"] < 377 * 0.6


# --- the cost model's decisions, as tables of cases ------------------------------------------

@pytest.mark.parametrize(("sample_fps", "video_fps", "pattern"), [
    (None, 30.0, "sequential"),   # every frame
    (1.0, 10.0, "seek"),          # one in ten
    (5.0, 10.0, "sequential"),    # one in two: scanning wastes little
    (20.0, 10.0, "sequential"),   # more than the video has
    (1.0, 0.0, "sequential"),     # unknown rate
])
def test_decode_pattern(sample_fps: float | None, video_fps: float, pattern: str) -> None:
    assert decode_pattern(sample_fps, video_fps) == pattern


@pytest.mark.parametrize(("frames", "duration", "videos", "fps", "kept"), [
    (1394, 139.4, 1, 1.0, 140),
    (377, 30.16, 1, 2.0, 61),
    (377, 30.16, 1, 100.0, 377),
    (2788, 278.8, 2, 1.0, 280),
])
def test_sampled_frames(frames: int, duration: float, videos: int, fps: float,
                        kept: int) -> None:
    assert sampled_frames(frames, duration, videos, fps) == kept


SCAN = VideoScan("t", "t", 1, 1000, 100.0)
DECODE = Profile("t", "decode", "sequential", "cpu", 1, 2.0, 32, "test")
SEEK = Profile("t", "decode", "seek", "cpu", 1, 10.0, 32, "test")
DETECT = UDFCall("detect", ("fastestdet",), "c", False, 15.0, "measured")


def pipe(*nodes: PlanNode) -> PlanNode:
    current: PlanNode = SCAN
    for node in nodes:
        current = node.replace(child=current)
    return Project(current, "v", ("frame_id",))


@pytest.mark.parametrize(("case", "pipeline", "profiles", "seconds", "upper"), [
    ("every frame: decode + detect", pipe(Decode(SCAN), ApplyUDF(SCAN, DETECT)), [DECODE],
     1000 * (2.0 + 15.0) / 1000, False),
    ("sampled sparse frames are sought", pipe(Sample(SCAN, 1.0), Decode(SCAN),
                                              ApplyUDF(SCAN, DETECT)), [DECODE, SEEK],
     101 * (10.0 + 15.0) / 1000, False),
    ("a plain limit caps the frames", pipe(Decode(SCAN), ApplyUDF(SCAN, DETECT),
                                           Limit(SCAN, 10)), [DECODE], 10 * 17.0 / 1000, False),
    ("a filter after the costly work changes nothing",
     pipe(Decode(SCAN), ApplyUDF(SCAN, DETECT), Filter(SCAN, "c > 0", frozenset({"c"}))),
     [DECODE], 17.0, False),
    ("work after a filter is an upper bound",
     pipe(Filter(SCAN, "ts < 9", frozenset({"ts"})), Decode(SCAN), ApplyUDF(SCAN, DETECT)),
     [DECODE], 17.0, True),
    ("no decode profile: unknown", pipe(Decode(SCAN), ApplyUDF(SCAN, DETECT)), [], None, False),
])
def test_estimate(case: str, pipeline: PlanNode, profiles: list[Profile],
                  seconds: float | None, upper: bool) -> None:
    found = estimate(pipeline, profiles)
    if seconds is None:
        assert found.seconds is None
    else:
        assert found.seconds == pytest.approx(seconds)
    assert found.upper_bound == upper


BRIGHT = UDFCall("brightness", (), "b", False, 0.2, "measured")


def cost_at(call: UDFCall, curve: dict[int, float]) -> list[Profile]:
    return [Profile("t", call.function, repr(call.constants), "cpu", size, ms, 32, "test")
            for size, ms in curve.items()]


@pytest.mark.parametrize(("case", "profiles", "expected"), [
    ("the cheapest total wins", cost_at(DETECT, {1: 7.0, 16: 5.6, 32: 4.0})
     + cost_at(BRIGHT, {1: 0.5, 16: 0.5, 32: 0.5}), 32),
    ("within 15 % of the configured size: keep it", cost_at(DETECT, {1: 7.0, 16: 5.6, 32: 5.0}),
     16),
    ("only sizes measured for every function count", cost_at(DETECT, {4: 1.0, 16: 5.0, 32: 5.0})
     + cost_at(BRIGHT, {16: 0.5, 32: 0.5}), 16),
    ("fewer than two sizes measured: the configured", cost_at(DETECT, {32: 1.0}), 16),
    ("nothing measured: the configured", [], 16),
])
def test_best_batch_size(case: str, profiles: list[Profile], expected: int) -> None:
    calls = [DETECT, BRIGHT] if any(p.operator == "brightness" for p in profiles) else [DETECT]
    assert best_batch_size(calls, profiles, 16) == expected


def test_pipelines_run_at_the_measured_best_batch_size(road: vql.Connection) -> None:
    sql = "SELECT frame_id, brightness, count_objects(frame, 'car') AS cars FROM intersection " \
          "WHERE frame_id < 100"
    before = road.execute(sql).fetchall()
    road.execute("CLEAR CACHE")
    analyzed = {r[3] for r in road.execute("ANALYZE intersection").fetchall()
                if r[0] == "detect" and r[2] == "native"}
    assert analyzed == {1, 4, 16, 32}  # the batch-size curve
    # Make batches of 4 clearly the cheapest for both functions.
    road.engine.duck.execute("UPDATE vql_catalog.profiles SET ms_per_frame = 0.01 "
                 "WHERE batch_size = 4 AND operator IN ('detect', 'brightness')")
    plan = "\n".join(r[0] for r in road.execute("EXPLAIN " + sql).fetchall())
    assert "batches of 4" in plan
    cur = road.execute(sql)
    assert cur.fetchall() == before  # batching changes no result
    assert cur.stats is not None and cur.stats.frames_decoded == 100
