"""Baseline: what each query costs today, with the reference plan and with the lossless rules.

    python bench/baseline.py            # needs the shared videos ($VQL_SHARED, default ../shared)

Prints one table: query, rows, frames decoded and wall time for the reference plan (no rule)
and the optimized plan, and the speedup. Times are the best of three runs (models loaded before).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import vql
from vql.optimize import OptimizerOptions
from vql.settings import Settings
from vql.shell.format import table

QUERIES = [
    ("room", "SELECT count(*) FROM room"),
    ("room", "SELECT avg(brightness) FROM room"),
    ("room", "SELECT frame_id FROM room WHERE has_object(frame, 'person') SAMPLE 1 FPS"),
    ("room", "SELECT frame_id FROM room WHERE ts BETWEEN 60 AND 70 "
             "AND has_object(frame, 'person')"),
    ("room", "SELECT frame_id, brightness FROM room LIMIT 10"),
    ("intersection", "SELECT congested FROM intersection"),
    ("intersection", "SELECT avg(vehicle_count) FROM intersection"),
]

# the lossless rules are measured without the result cache (bench/execution.py measures it)
NO_CACHE = dataclasses.replace(Settings.from_env(), cache_mb=0)


def measure(con: vql.Connection, sql: str, options: OptimizerOptions,
            repeat: int = 3) -> tuple[int, int, float]:
    """Rows, frames decoded and the best wall time of ``repeat`` runs."""
    con.engine.optimizer = options
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        cur = con.execute(sql)
        rows = len(cur.fetchall())
        best = min(best, time.perf_counter() - started)
    return rows, cur.stats.frames_decoded if cur.stats else 0, best


def main() -> int:
    shared = Path(os.environ.get("VQL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    videos = shared / "data" / "videos"
    if not videos.is_dir():
        print(f"shared videos not found at {videos}; set VQL_SHARED", file=sys.stderr)
        return 1
    con = vql.connect(settings=NO_CACHE)
    con.execute("LOAD VIDEO ? INTO room", [str(videos / "one-by-one-person-detection.mp4")])
    con.execute("LOAD VIDEO ? INTO intersection", [str(videos / "car-detection.mp4")])
    con.execute("SELECT detect(frame) FROM room LIMIT 1").fetchall()  # load the model once
    rows = []
    for _, sql in QUERIES:
        n, ref_frames, ref_time = measure(con, sql, OptimizerOptions.reference())
        _, opt_frames, opt_time = measure(con, sql, OptimizerOptions())
        rows.append((sql, n, ref_frames, f"{ref_time:.2f}", opt_frames, f"{opt_time:.2f}",
                     f"{ref_time / opt_time:.1f}x"))
    print(f"machine: {os.cpu_count()} cores; VQL {vql.__version__}")
    print(table(["query", "rows", "ref frames decoded", "ref s", "opt frames decoded",
                 "opt s", "speedup"], rows))
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
