"""Queries with targets on the real videos: lossy knobs (differential tests against the exact
plan), accuracy profiles in the catalog, the latency controller on a real query, infeasible
targets, and what EXPLAIN, the cursor and the shell show."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import vql
from vql.accuracy import accuracy
from vql.accuracy.metrics import detection_f1
from vql.bind.binder import Binder
from vql.optimize import optimize
from vql.physical import knobs
from vql.physical.knobs import Config
from vql.physical.planner import PhysicalPlanner
from vql.session.query import Planned, run_query
from vql.settings import Settings
from vql.sql.parse import parse_one

ROAD_FRAMES = 377


def run_config(con: vql.Connection, sql: str, config: Config) -> tuple[pa.Table, vql.Cursor]:
    """The query's rows with one knob configuration forced (no target needed)."""
    engine = con.engine
    bound = Binder(engine.catalog, engine.registry, ()).bind(parse_one(sql))
    plan = knobs.apply(optimize(bound.plan), config)
    planner = PhysicalPlanner.of(engine.services)
    result = run_query(engine, bound, Planned(plan, [planner.plan(n) for n in plan.inputs]))
    assert result.reader is not None
    try:
        return result.reader.read_all(), result.stats
    finally:
        if result.finish:
            result.finish()


@pytest.fixture
def uncached(road_video: Path) -> Iterator[vql.Connection]:
    """The road video on a connection without the result cache: a query computes what it
    uses (with the cache, values an exact run computed make the next exact run free)."""
    con = vql.connect(":memory:", settings=dataclasses.replace(Settings.from_env(), cache_mb=0))
    con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
    yield con
    con.close()


def exact(con: vql.Connection, sql: str) -> pa.Table:
    return con.execute(sql).fetch_arrow_table()


# --- the knobs, differentially -----------------------------------------------------------

def test_sampling_at_the_video_rate_and_native_size_equals_the_exact_plan(
        road: vql.Connection) -> None:
    sql = "SELECT frame_id, computed, vehicle_count, congested FROM intersection"
    table, stats = run_config(road, sql, Config(fps=100.0))
    assert table.equals(exact(road, sql))
    assert stats.rows_filled == 0 and all(table.column("computed").to_pylist())


def test_sampling_fills_every_skipped_row_from_the_nearest_processed_frame(
        road: vql.Connection) -> None:
    sql = "SELECT frame_id, ts, computed, brightness FROM intersection"
    table, stats = run_config(road, sql, Config(fps=1.0))
    assert table.num_rows == ROAD_FRAMES
    computed = np.array(table.column("computed").to_pylist())
    assert computed.sum() == stats.frames_decoded == 31  # one per second of a 30.2 s video
    assert stats.rows_filled == ROAD_FRAMES - 31
    ts = np.array(table.column("ts").to_pylist())
    values = np.array(table.column("brightness").to_pylist())
    processed = np.flatnonzero(computed)
    for row in range(ROAD_FRAMES):
        distance = np.abs(ts[processed] - ts[row])
        nearest = processed[distance == distance.min()]
        assert values[row] in values[nearest]
    reference = exact(road, "SELECT brightness FROM intersection").column(0).to_pylist()
    assert values[processed].tolist() == [reference[i] for i in processed]


def test_a_difference_cascade_at_zero_equals_the_exact_plan(road: vql.Connection) -> None:
    sql = "SELECT frame_id, computed, brightness FROM intersection"
    table, stats = run_config(road, sql, Config(diff=0.0))
    assert table.equals(exact(road, sql)) and stats.rows_filled == 0


def test_a_difference_cascade_skips_still_frames_and_fills_them(room: vql.Connection) -> None:
    sql = "SELECT frame_id, computed, has_object(frame, 'person') AS p FROM room " \
          "WHERE frame_id < 300"
    table, stats = run_config(room, sql, Config(diff=0.01))
    assert table.num_rows == 300 and stats.frames_decoded == 300
    processed = sum(table.column("computed").to_pylist())
    assert processed == stats.udf_frames["detect"] < 300  # still frames skip the detector
    reference = exact(room, sql.replace("computed, ", ""))
    assert accuracy("per_frame", reference.select(["p"]), table.select(["p"])) > 0.8


def test_a_reduced_resolution_reports_boxes_in_native_pixels(room: vql.Connection) -> None:
    sql = "SELECT detect(frame) AS d FROM room WHERE frame_id BETWEEN 600 AND 640"
    half, _ = run_config(room, sql, Config(scale=0.5))
    full = exact(room, sql)
    boxes = [b for frame in half.column("d").to_pylist() for b in frame]
    assert boxes and max(b["x2"] for b in boxes) > 768 / 2  # not in half-size pixels
    assert detection_f1(full.column("d").to_pylist(), half.column("d").to_pylist()) > 0.5


def test_a_sampled_plan_reads_cached_values(road: vql.Connection) -> None:
    sql = "SELECT frame_id, computed, brightness FROM intersection"
    reference = exact(road, sql)  # computes every frame's brightness
    road.execute("SELECT 1").fetchall()  # the next statement writes them to the cache
    table, stats = run_config(road, sql, Config(fps=1.0))
    assert stats.frames_decoded == 0 and stats.frames_reused == 31
    assert table.num_rows == ROAD_FRAMES
    computed = np.array(table.column("computed").to_pylist())
    values = np.array(table.column("brightness").to_pylist())
    assert values[computed].tolist() == np.array(
        reference.column("brightness").to_pylist())[computed].tolist()


# --- real targets --------------------------------------------------------------------------

def test_a_stateless_pipeline_is_profiled_from_its_exact_run(uncached: vql.Connection) -> None:
    """The first query WITH ACCURACY runs the exact plan once, answers exactly, and replays
    every rate and cascade from what it computed; the next one runs the chosen plan."""
    sql = "SELECT frame_id, brightness > 0.42 AS bright, ts FROM intersection"
    reference = exact(uncached, sql)
    first = uncached.execute(sql + " WITH ACCURACY 0.9")
    assert first.fetch_arrow_table().equals(reference)  # exact: its values were computed
    assert first.tuning is not None and first.tuning.trace is not None
    assert first.tuning.trace.frames_decoded == ROAD_FRAMES  # one pass over the video
    assert any("from the exact run over 377 frames" in n for n in first.tuning.notes)
    # Profiles are committed apart from the user's transaction, whose snapshot predates them.
    uncached.commit()
    knobs_stored = {r[0] for r in uncached.execute(
        "SELECT knob FROM vql_catalog.accuracy_profiles").fetchall()}
    assert knobs_stored == {"reference", "fps", "diff"}  # resolutions are not replayed
    second = uncached.execute(sql + " WITH ACCURACY 0.9")
    result = second.fetch_arrow_table()
    assert second.tuning is not None and second.tuning.lossy
    assert any("accuracy profile reused" in note for note in second.tuning.notes)
    measured = accuracy("per_frame", reference, result, ["bright"])
    assert measured >= 0.9
    # replayed from every frame the query reads, the estimate is what the plan scores
    assert second.estimated_accuracy == pytest.approx(measured)
    assert set(second.tuning.column_accuracy) == {"bright"}  # frame_id and ts are not scored
    # the same pipeline with other columns no function feeds keeps the profile
    other = uncached.execute("SELECT brightness > 0.42 AS bright FROM intersection "
                         "WITH ACCURACY 0.95")
    assert other.tuning is not None
    assert any("accuracy profile reused" in note for note in other.tuning.notes)
    other.fetchall()
    uncached.commit()  # the tuner reads profiles as committed (apart from this transaction)
    uncached.engine.duck.execute("UPDATE vql_catalog.accuracy_profiles SET content = 'other videos'")
    stale = uncached.execute(sql + " WITH ACCURACY 0.9")
    assert stale.tuning is not None
    assert any("profiled again: the table's videos changed" in n for n in stale.tuning.notes)


def test_replayed_configurations_equal_real_runs(road: vql.Connection) -> None:
    """For stateless functions a configuration replayed from the exact run's trace gives
    exactly what running it gives."""
    from vql.tune.clips import ClipProfiler
    from vql.tune.observe import ReplayPlanner, observe

    sql = ("SELECT frame_id, computed, brightness, brightness > 0.42 AS bright "
           "FROM intersection WHERE frame_id < 300")
    bound = Binder(road.engine.catalog, road.engine.registry, ()).bind(parse_one(sql))
    profiler = ClipProfiler(road.engine.services, optimize(bound.plan))
    configs = [Config(fps=1.0), Config(fps=0.25), Config(diff=0.005), Config(diff=0.01)]
    trace, profiles = observe(road.engine.services, profiler, configs)
    assert {p.config for p in profiles} == {c.key() for c in [Config(), *configs]}
    for config in configs:
        real = profiler.run(config, trace.ranges())
        replayed = profiler.run(config, trace.ranges(), ReplayPlanner.over(road.engine.services, trace))
        assert replayed[0].equals(real[0]), config
        assert replayed[3] == real[3]  # a cascade's pass rate too


def test_a_stateful_pipeline_is_recorded_then_measured_then_run(
        uncached: vql.Connection) -> None:
    """Moving objects at a lower rate see other frames: nothing is replayed. The first query
    records the exact run; the second runs the rates for real against it and answers from
    it; the third runs the chosen plan. Every answer meets the target. Without the result
    cache: with it, the exact run's values are cached and the targeted queries run exactly."""
    sql = "SELECT avg(vehicle_count) FROM intersection"
    reference = exact(uncached, sql)
    first = uncached.execute(sql + " WITH ACCURACY 0.9")
    assert first.fetch_arrow_table().equals(reference)
    assert first.tuning is not None
    assert any("cannot be replayed" in n for n in first.tuning.notes)
    assert uncached.execute("SELECT count(*) FROM vql_catalog.accuracy_profiles").fetchall() \
        == [(0,)]
    second = uncached.execute(sql + " WITH ACCURACY 0.9")
    assert second.fetch_arrow_table().equals(reference)
    assert second.tuning is not None
    assert any("sampling rates run for real" in n for n in second.tuning.notes)
    knobs_stored = {r[0] for r in uncached.execute(
        "SELECT knob FROM vql_catalog.accuracy_profiles").fetchall()}
    assert knobs_stored == {"reference", "fps"}
    third = uncached.execute(sql + " WITH ACCURACY 0.9")
    result = third.fetch_arrow_table()
    assert third.tuning is not None and third.tuning.lossy
    measured = accuracy("aggregate", reference, result)
    assert measured >= 0.9
    # the profile ran this very plan over every frame the query reads
    assert third.estimated_accuracy == pytest.approx(measured)


def test_a_limit_query_is_profiled_on_the_frames_it_reads(uncached: vql.Connection) -> None:
    sql = "SELECT frame_id, brightness FROM intersection LIMIT 120"
    reference = exact(uncached, sql)
    first = uncached.execute(sql + " WITH ACCURACY 0.95")
    assert first.fetch_arrow_table().equals(reference)
    assert first.tuning is not None and first.tuning.trace is not None
    assert first.tuning.trace.frames == 120  # only the frames the query reads
    cur = uncached.execute(sql + " WITH ACCURACY 0.95")
    result = cur.fetch_arrow_table()
    assert cur.tuning is not None and cur.tuning.lossy and result.num_rows == 120
    measured = accuracy(cur.tuning.shape, reference, result, ["brightness"])
    assert measured >= 0.95
    # The real run may fill the last rows from a sampled frame past the limit, which the
    # exact run (and so the replay) never read: the estimate is off by a few such rows.
    assert cur.estimated_accuracy == pytest.approx(measured, abs=0.01)


def test_drifted_content_drops_the_accuracy_profile(road: vql.Connection) -> None:
    sql = "SELECT avg(vehicle_count) FROM intersection WITH ACCURACY 0.9"
    road.execute(sql).fetchall()  # records the exact run
    road.execute(sql).fetchall()  # builds the profile against it
    # Make the stored profile say: 1 FPS is exact (lower rates useless), and sampled frames
    # never changed; the vehicle counts of the road video do change.
    road.engine.duck.execute("UPDATE vql_catalog.accuracy_profiles SET change_rate = 0, "
                 "accuracy = CASE WHEN value >= 1 THEN 1 ELSE 0 END WHERE knob = 'fps'")
    cur = road.execute(sql)
    cur.fetchall()  # the check runs once every row has been read
    assert cur.tuning is not None and cur.tuning.chosen is not None
    # 1 FPS (30 processed frames: enough pairs to tell); 2 FPS when the profile's budget (the
    # exact plan's time) ran out before the bisection reached 1 FPS, as on a loaded machine
    assert cur.tuning.chosen.config.fps in (1.0, 2.0)
    assert any(note.startswith("content drift") for note in cur.tuning.notes)
    assert road.execute("SELECT count(*) FROM vql_catalog.accuracy_profiles").fetchall() == [(0,)]


def test_drift_is_checked_under_a_latency_target_too(uncached: vql.Connection) -> None:
    """The controller picks rates as it goes: what the profile expects is the change rate of
    the rates it used. Brightness differs between almost any two frames; the profile is made
    to say it never does."""
    uncached.execute("SELECT avg(brightness) FROM intersection WITH ACCURACY 0.9").fetchall()
    uncached.commit()  # the tuner reads profiles as committed (apart from this transaction)
    uncached.engine.duck.execute("UPDATE vql_catalog.accuracy_profiles SET change_rate = 0 "
                     "WHERE knob = 'fps'")
    cur = uncached.execute("SELECT avg(brightness) FROM intersection WITH LATENCY 2s")
    cur.fetchall()
    assert cur.tuning is not None and cur.tuning.controller is not None
    assert cur.stats is not None and cur.stats.processed_pairs >= 20
    assert any(note.startswith("content drift") for note in cur.tuning.notes)
    uncached.commit()
    assert uncached.execute("SELECT count(*) FROM vql_catalog.accuracy_profiles").fetchall() \
        == [(0,)]


def test_a_latency_target_runs_under_the_controller(road: vql.Connection) -> None:
    road.execute("ANALYZE intersection")  # else measuring costs eats into the 2 s
    cur = road.execute("SELECT frame_id, computed, congested FROM intersection "
                       "WITH LATENCY 2s")
    rows = cur.fetchall()
    assert len(rows) == ROAD_FRAMES
    assert cur.tuning is not None and cur.tuning.controller is not None
    assert cur.tuning.controller.decisions  # rates were picked per invocation
    assert cur.stats is not None
    assert sum(1 for r in rows if r[1]) == cur.stats.frames_decoded


def test_an_infeasible_target_is_refused_unless_best_effort(road: vql.Connection) -> None:
    with pytest.raises(vql.InfeasibleTargetError, match="the fastest takes about"):
        road.execute("SELECT congested FROM intersection WITH LATENCY 1ms")
    cur = road.execute("SELECT congested FROM intersection WITH LATENCY 1ms BEST EFFORT")
    assert len(cur.fetchall()) == ROAD_FRAMES
    assert cur.tuning is not None and any("BEST EFFORT" in n for n in cur.tuning.notes)


SLOW_FUNCTION = """
import time, pyarrow as pa, vql
@vql.udf(inputs=["frame"], returns=pa.float64())
def slow_level(frames):
    time.sleep(0.03 * len(frames))  # a floor: measuring 6 frames at 3 sizes takes >= 0.5 s
    return frames.reshape(len(frames), -1).mean(axis=1) / 255.0
"""


def test_a_target_used_up_by_measuring_still_answers_and_says_why(
        road_video: Path, tmp_path: Path) -> None:
    """The first query with a target measures costs, which can take longer than the target
    itself: it was refused ('no plan meets WITH LATENCY 2 s: the fastest takes about 0.26 s')
    although a plan meets it. Now the plan chosen for the whole target runs, with a warning."""
    function = tmp_path / "slow.py"
    function.write_text(SLOW_FUNCTION)
    con = vql.connect(":memory:")
    con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
    con.execute("CREATE FUNCTION slow_level FROM ?", [str(function)])
    with pytest.warns(vql.TargetNotOptimizedWarning, match="missed by this query: measuring "
                      r"took \d+\.\d+ s of it"):
        cur = con.execute("SELECT avg(slow_level) FROM intersection WITH LATENCY 0.5s")
    assert 0 < cur.fetchall()[0][0] < 1
    assert cur.tuning is not None and cur.tuning.lossy and cur.tuning.late is not None
    con.close()


def test_an_exact_plan_computes_every_row(road: vql.Connection) -> None:
    cur = road.execute("SELECT computed, congested FROM intersection")
    assert all(r[0] for r in cur.fetchall())
    assert cur.estimated_accuracy == 1.0


# --- what the user sees --------------------------------------------------------------------

def test_explain_shows_the_choice_its_estimates_and_two_rejected_plans(
        road: vql.Connection) -> None:
    text = "\n".join(r[0] for r in road.execute(
        "EXPLAIN SELECT congested FROM intersection WITH LATENCY 2s"))
    assert "== Cost-based choice ==" in text and "chosen: " in text
    assert text.count("rejected: ") == 2
    assert "dollar cost: $" in text and "latency controller:" in text
    infeasible = "\n".join(r[0] for r in road.execute(
        "EXPLAIN SELECT congested FROM intersection WITH LATENCY 1ms"))
    assert "no plan is estimated to meet WITH LATENCY 0.001 s" in infeasible


def test_explain_does_not_run_the_query_to_profile_it(road: vql.Connection) -> None:
    text = "\n".join(r[0] for r in road.execute(
        "EXPLAIN SELECT avg(vehicle_count) FROM intersection WITH ACCURACY 0.9"))
    assert "running the query profiles it" in text and "chosen: every frame" in text
    assert road.execute("SELECT count(*) FROM vql_catalog.accuracy_profiles").fetchall() \
        == [(0,)]


def test_explain_analyze_shows_estimated_and_actual_time_per_operator(
        road: vql.Connection) -> None:
    road.execute("ANALYZE intersection")
    lines = [r[0] for r in road.execute(
        "EXPLAIN ANALYZE SELECT frame_id FROM intersection WHERE brightness > 100")]
    header = lines.index("operator | estimated | actual (own time) | rows in -> out | pass rate")
    operators = lines[header + 1:]
    decode = next(line for line in operators if "Decode with decord" in line)
    assert decode.split(" | ")[1].endswith(" s") and decode.split(" | ")[2].endswith(" s")
    assert any(line.strip().startswith("Filter") and "%" in line for line in operators)


def test_the_shell_prints_the_estimated_accuracy_under_a_lossy_result(road_video: Path,
                                                                      tmp_path: Path) -> None:
    query = "SELECT avg(vehicle_count) FROM intersection WITH ACCURACY 0.8;\n"
    # recorded, then measured against the record, then lossy
    script = f"CREATE VIDEO TABLE intersection FROM '{road_video}';\n" + query * 3
    result = subprocess.run([sys.executable, "-m", "vql.cli", ":memory:", "-c", script],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Estimated accuracy: " in result.stdout and "aggregate metric" in result.stdout
