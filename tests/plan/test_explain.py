"""EXPLAIN's three levels (reference logical plan, optimized plan, physical plan) for a set of
representative queries, checked against snapshot files in tests/plan/explain/ (issue 14): a
change to planning shows as a diff of those files. The numbers that depend on the machine (the
decoder's thread count) are written as N; the estimates section, which depends on measured
costs and core counts, is left out. After an intended change, rewrite the snapshots with
``VQL_UPDATE_SNAPSHOTS=1 pytest tests/plan/test_explain.py`` and read the diff."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

import vql
from vql.settings import Settings

SNAPSHOTS = Path(__file__).parent / "explain"

QUERIES = {
    # a derived column under a sampling rate
    "derived_column_sampled": "SELECT frame_id, congested FROM road SAMPLE 2 FPS",
    # the cheap filter first, the detector after it, a LIMIT that stops decoding
    "filters_ordered_and_limit": "SELECT frame_id, ts FROM road WHERE brightness(frame) > 0.4 "
                                 "AND has_object(frame, 'person') LIMIT 5",
    # metadata only: nothing is decoded
    "metadata_only": "SELECT count(*) AS frames FROM road WHERE ts < 1",
    # an aggregate over a function, grouped
    "aggregate": "SELECT round(ts) AS second, avg(brightness) AS level FROM road GROUP BY 1",
    # a join with a plain table: only the frames it names are decoded
    "semijoin": "SELECT r.frame_id, brightness(r.frame) AS level FROM road r "
                "JOIN marks m ON r.frame_id = m.frame_id",
    # a view over the video table, read in place
    "view": "SELECT frame_id FROM bright_frames WHERE frame_id < 100",
    # a CTE and a window over function values
    "cte_and_window": "WITH b AS (SELECT frame_id, brightness FROM road) "
                      "SELECT frame_id, brightness - lag(brightness) OVER (ORDER BY frame_id) "
                      "AS change FROM b",
}


def explained(con: vql.Connection, sql: str) -> str:
    lines = [row[0] for row in con.execute("EXPLAIN " + sql).fetchall()]
    text = "\n".join(lines)
    text = text.split("\n== Estimates")[0].rstrip() + "\n"
    return re.sub(r"\b\d+ threads\b", "N threads", text)


@pytest.fixture
def catalog(road_video: Path) -> vql.Connection:
    # the settings a snapshot shows, whatever the environment says (a GPU machine would
    # place functions on cuda)
    settings = dataclasses.replace(Settings.from_env(), device="cpu", batch_size=16, prefetch=2)
    con = vql.connect(":memory:", settings=settings)
    con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
    con.execute("CREATE TABLE marks AS SELECT * FROM (VALUES (3), (50), (200)) t(frame_id)")
    con.execute("CREATE VIEW bright_frames AS SELECT frame_id, ts FROM road "
                "WHERE brightness > 0.4")
    return con


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_explain_matches_its_snapshot(catalog: vql.Connection, name: str) -> None:
    text = explained(catalog, QUERIES[name])
    for level in ("== Logical plan (reference) ==", "== Optimized logical plan ==",
                  "== Physical plan =="):
        assert level in text
    snapshot = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("VQL_UPDATE_SNAPSHOTS") == "1" or not snapshot.exists():
        snapshot.write_text(f"-- EXPLAIN {QUERIES[name]}\n{text}")
        if os.environ.get("CI") == "true":
            pytest.fail(f"{snapshot} was missing: written now; commit it")
    expected = snapshot.read_text().split("\n", 1)[1]
    assert text == expected, f"EXPLAIN changed; see {snapshot} (VQL_UPDATE_SNAPSHOTS=1)"
