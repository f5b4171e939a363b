"""Optimizer rules. Differential: every rule is lossless, so the optimized plan returns exactly
the reference plan's rows; and the work it saves shows in the statistics."""

from __future__ import annotations

import typing as t

import pytest

import vql
from vql.optimize import OptimizerOptions, optimize
from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    Filter,
    Limit,
    PlanNode,
    Project,
    Relational,
    Reuse,
    UDFCall,
    VideoScan,
    chain,
)


def run(con: vql.Connection, sql: str, options: OptimizerOptions) -> tuple[list[t.Any], t.Any]:
    con.engine.optimizer = options
    cur = con.execute(sql)
    rows = cur.fetchall()
    return rows, cur.stats


DIFFERENTIAL = [
    # (query, stat that the optimized plan must lower, reason)
    ("SELECT frame_id, brightness FROM intersection WHERE ts BETWEEN 10 AND 12",
     "frames_decoded", "a metadata filter runs before decoding"),
    ("SELECT frame_id FROM intersection WHERE brightness > 0.3 AND ts < 5",
     "frames_decoded", "the metadata conjunct runs before decoding"),
    ("SELECT frame_id, brightness FROM intersection LIMIT 7", None,
     "a plain LIMIT stops decoding in both plans: DuckDB's LIMIT stops pulling batches, and "
     "the Limit operator makes the stop explicit (measured: 16 frames decoded in each)"),
    ("SELECT frame_id FROM intersection WHERE has_object(frame, 'person') AND frame_id < 30",
     "detect", "the detector runs only on frames that pass the cheap filter"),
    ("SELECT frame_id, brightness FROM intersection "
     "WHERE count_objects(frame, 'car') = 0 AND brightness > 0.3 AND frame_id % 50 = 0",
     "detect", "the cheaper brightness filter runs before the detector"),
    ("SELECT frame_id, motion FROM intersection WHERE ts > 20", None,
     "a stateful UDF sees every frame: nothing moves below it"),
    ("SELECT frame_id, motion FROM intersection WHERE ts < 4", "frames_decoded",
     "a stateful UDF's value depends only on the frames before: the frames after an upper "
     "bound in time are never decoded"),
    ("SELECT frame_id, track(frame, 'vehicle') AS cars FROM intersection "
     "WHERE frame_id BETWEEN 200 AND 230", "frames_decoded",
     "the cars tracked from the first frame to the top of the BETWEEN are those tracked over "
     "the whole video"),
    ("SELECT frame_id, moving_objects FROM intersection WHERE moving_objects > 0 LIMIT 5", None,
     "LIMIT after a filter the SQL applies: no early stop is claimed"),
    ("SELECT count(*) FROM intersection WHERE brightness > 0.35 SAMPLE 3 FPS", None,
     "sampling happens in both plans"),
]


@pytest.mark.parametrize(("sql", "saved", "reason"), DIFFERENTIAL)
def test_optimized_plan_returns_the_reference_rows(road: vql.Connection, sql: str,
                                                   saved: str | None, reason: str) -> None:
    reference, ref_stats = run(road, sql, OptimizerOptions.reference())
    optimized, opt_stats = run(road, sql, OptimizerOptions())
    assert optimized == reference, reason
    if saved == "frames_decoded":
        assert opt_stats.frames_decoded < ref_stats.frames_decoded, reason
    elif saved is not None:
        assert opt_stats.udf_frames[saved] < ref_stats.udf_frames[saved], reason


# --- push_filters decisions, as a table of cases ----------------------------------------------

SCAN = VideoScan("t", "t", 1, 100)


def udf(name: str, cost: float, stateful: bool = False, version: str | None = None
        ) -> UDFCall:
    return UDFCall(name, (), f"c_{name}", stateful, cost, version=version)


def pipeline(*middle: PlanNode) -> Relational:
    node: PlanNode = Decode(SCAN)
    for item in middle:
        node = item.replace(child=node)
    return Relational("SELECT * FROM v", (), (Project(node, "v", ("frame_id",)),))


def labels(plan: Relational) -> list[str]:
    out = []
    for node in chain(plan.inputs[0]):
        if isinstance(node, ApplyUDF):
            out.append(node.call.function)
        elif isinstance(node, Filter):
            out.append(f"filter({node.predicate})")
        elif isinstance(node, Decode | Limit | Reuse):
            out.append(type(node).__name__.lower())
    return out


LEAF = SCAN
CASES = [
    ("metadata filter goes below decode",
     pipeline(ApplyUDF(LEAF, udf("detect", 15)), Filter(LEAF, "ts < 1", frozenset({"ts"}))),
     ["filter(ts < 1)", "decode", "detect"]),
    ("cheap predicate first, expensive UDF after it",
     pipeline(ApplyUDF(LEAF, udf("detect", 15)), ApplyUDF(LEAF, udf("bright", 0.2)),
              Filter(LEAF, "c_detect > 0", frozenset({"c_detect"})),
              Filter(LEAF, "c_bright > 0.5", frozenset({"c_bright"}))),
     ["decode", "bright", "filter(c_bright > 0.5)", "detect", "filter(c_detect > 0)"]),
    ("a stateful UDF runs first and no filter moves below it but an upper bound in time",
     pipeline(ApplyUDF(LEAF, udf("detect", 15)), ApplyUDF(LEAF, udf("motion", 1.5, True)),
              Filter(LEAF, "ts < 1", frozenset({"ts"})),
              Filter(LEAF, "c_detect > 0", frozenset({"c_detect"}))),
     ["filter(ts < 1)", "decode", "motion", "filter(ts < 1)", "detect",
      "filter(c_detect > 0)"]),
    ("a lower bound keeps the frames before it for a stateful UDF; the top of BETWEEN goes",
     pipeline(ApplyUDF(LEAF, udf("motion", 1.5, True)),
              Filter(LEAF, "ts > 1 AND frame_id % 2 = 0", frozenset({"ts", "frame_id"})),
              Filter(LEAF, "frame_id BETWEEN 10 AND $1", frozenset({"frame_id"}), (50,))),
     ["filter(frame_id <= $1)", "decode", "motion", "filter(ts > 1 AND frame_id % 2 = 0)",
      "filter(frame_id BETWEEN 10 AND $1)"]),
    ("UDFs no filter needs run after every filter",
     pipeline(ApplyUDF(LEAF, udf("detect", 15)), ApplyUDF(LEAF, udf("bright", 0.2)),
              Filter(LEAF, "c_bright > 0.5", frozenset({"c_bright"}))),
     ["decode", "bright", "filter(c_bright > 0.5)", "detect"]),
]


@pytest.mark.parametrize(("case", "plan", "expected"), CASES, ids=[c[0] for c in CASES])
def test_push_filters_orders_the_pipeline(case: str, plan: Relational,
                                          expected: list[str]) -> None:
    assert labels(optimize(plan, OptimizerOptions(push_limit=False))) == expected


def test_push_limit_needs_rows_needed() -> None:
    plan = pipeline(ApplyUDF(LEAF, udf("bright", 0.2)))
    assert labels(optimize(plan)) == ["decode", "bright"]
    limited = optimize(plan.replace(rows_needed=5))
    assert labels(limited) == ["decode", "bright", "limit"]


def test_reference_options_apply_no_rule() -> None:
    plan = pipeline(ApplyUDF(LEAF, udf("detect", 15)), Filter(LEAF, "ts < 1", frozenset({"ts"})))
    assert optimize(plan, OptimizerOptions.reference()) == plan


# --- reuse_results -----------------------------------------------------------------------------

def test_reuse_returns_the_reference_rows_without_decoding_again(road: vql.Connection) -> None:
    sql = "SELECT frame_id, brightness FROM intersection WHERE ts < 5"
    reference, _ = run(road, sql, OptimizerOptions.reference())
    first, computed = run(road, sql, OptimizerOptions())
    second, reused = run(road, sql, OptimizerOptions())
    assert first == second == reference
    assert computed.frames_decoded > 0 and reused.frames_decoded == 0


CACHED = udf("detect", 15, version="v1")
REUSE_CASES = [
    ("cacheable functions right above the decoder are wrapped",
     pipeline(ApplyUDF(LEAF, CACHED), Filter(LEAF, "c_detect > 0", frozenset({"c_detect"}))),
     ["decode", "detect", "reuse", "filter(c_detect > 0)"]),
    ("a function without a version (non-deterministic, or guarded by a CASE) is not",
     pipeline(ApplyUDF(LEAF, udf("noise", 1.5))), ["decode", "noise"]),
    ("a stateful function is (the physical plan serves whole videos only)",
     pipeline(ApplyUDF(LEAF, udf("motion", 1.5, True, version="v1"))),
     ["decode", "motion", "reuse"]),
    ("a function above a filter needs pixels: nothing is wrapped",
     pipeline(ApplyUDF(LEAF, CACHED), ApplyUDF(LEAF, udf("bright", 0.2, version="v1")),
              Filter(LEAF, "c_bright > 0.5", frozenset({"c_bright"}))),
     ["decode", "bright", "filter(c_bright > 0.5)", "detect"]),
]


@pytest.mark.parametrize(("case", "plan", "expected"), REUSE_CASES, ids=[c[0] for c in REUSE_CASES])
def test_reuse_wraps_what_it_can(case: str, plan: Relational, expected: list[str]) -> None:
    assert labels(optimize(plan, OptimizerOptions(push_limit=False))) == expected
