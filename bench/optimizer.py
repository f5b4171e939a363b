"""The cost-based optimizer's yardstick: targets against the exact plan, on the shared videos
and on a 20.9-minute archive built from them (bench/archive.py).

    python bench/optimizer.py [--quick | --archive]   # needs $VQL_SHARED (default ../shared)

For each query: the exact plan's time (the query without its target: every frame, native
resolution), the first targeted run (which measures missing cost and accuracy profiles, a
one-time cost), then the targeted run with profiles in place (LATENCY queries: several runs),
its speedup, its accuracy measured against the exact result with the metric of the result's
shape, the accuracy the optimizer estimated, and whether the target was met. A LATENCY query's
profile is built first by the same query WITH ACCURACY 0.9 (profiles are per pipeline, not per
target). ``--quick`` skips the archive; ``--archive`` runs only the archive's queries.
"""

from __future__ import annotations

import dataclasses
import os
import re
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import archive  # noqa: E402

import vql  # noqa: E402
from vql.accuracy import accuracy  # noqa: E402
from vql.settings import Settings  # noqa: E402
from vql.shell.format import table  # noqa: E402

LATENCY_RUNS = 5

# no result cache: the targeted runs must compute what they use, as the exact run did
NO_CACHE = dataclasses.replace(Settings.from_env(), cache_mb=0)


@dataclass
class Case:
    table: str
    sql: str      # with its target clause
    kind: str


SHARED = [
    Case("room", "SELECT frame_id FROM room WHERE has_object(frame, 'person') "
                 "WITH ACCURACY 0.9", "selection"),
    Case("intersection", "SELECT avg(vehicle_count) FROM intersection WITH ACCURACY 0.9",
         "aggregate"),
    Case("room", "SELECT frame_id, count_objects(frame, 'person') AS people FROM room LIMIT 400 "
                 "WITH ACCURACY 0.9", "limit"),
    Case("intersection", "SELECT congested FROM intersection WITH LATENCY 2s", "latency"),
    Case("intersection", "SELECT congested FROM intersection WITH LATENCY 20ms", "infeasible"),
    Case("room", "SELECT count(*) FROM room WHERE has_object(frame, 'person') "
                 "WITH ACCURACY 0.95", "aggregate"),
]
ARCHIVE = [
    Case("archive", "SELECT frame_id FROM archive WHERE has_object(frame, 'person') "
                    "WITH ACCURACY 0.9", "selection"),
    Case("archive", "SELECT avg(count_objects(frame, 'person')) FROM archive "
                    "WITH ACCURACY 0.9", "aggregate"),
    Case("archive", "SELECT frame_id, has_object(frame, 'person') AS person FROM archive "
                    "WITH LATENCY 15s", "latency"),
]

TARGET = re.compile(r"\s+WITH\s+(LATENCY|ACCURACY|COST)\b.*$", re.IGNORECASE | re.DOTALL)


def exact(sql: str) -> str:
    return TARGET.sub("", sql)


def timed(con: vql.Connection, sql: str) -> tuple[pa.Table, float, vql.Cursor]:
    started = time.perf_counter()
    cur = con.execute(sql)
    result = cur.fetch_arrow_table()
    return result, time.perf_counter() - started, cur


def run_case(con: vql.Connection, case: Case) -> list[str]:
    reference, exact_s, _ = timed(con, exact(case.sql))
    if case.kind == "infeasible":
        started = time.perf_counter()
        try:
            con.execute(case.sql).fetchall()
            outcome, met = "ran", "no"
        except vql.InfeasibleTargetError as error:
            outcome, met = f"refused: {str(error)[:60]}...", "yes (refused before running)"
        return [case.sql, f"{exact_s:.2f}", f"{time.perf_counter() - started:.2f}", "-", "-",
                "-", "-", outcome, met]
    warm_sql = TARGET.sub(" WITH ACCURACY 0.9", case.sql) if case.kind == "latency" else case.sql
    _, first_s, _ = timed(con, warm_sql)
    runs = LATENCY_RUNS if case.kind == "latency" else 1
    times, scores, estimates = [], [], []
    for _ in range(runs):
        result, seconds, cur = timed(con, case.sql)
        times.append(seconds)
        shape = cur.tuning.shape if cur.tuning is not None else "per_frame"
        scores.append(accuracy(shape, reference, result))
        estimates.append(cur.estimated_accuracy)
    target = re.search(r"(LATENCY|ACCURACY)\s+([\d.]+)(ms|s)?", case.sql, re.IGNORECASE)
    assert target is not None
    if target.group(1).upper() == "LATENCY":
        limit = float(target.group(2)) * (0.001 if target.group(3) == "ms" else 1.0)
        met_runs = sum(1 for s in times if s <= limit)
        met = f"{met_runs}/{runs} runs within {limit:g} s"
    else:
        met = "yes" if min(scores) >= float(target.group(2)) else "no"
    seconds = statistics.median(times)
    estimate = estimates[-1]
    return [case.sql, f"{exact_s:.2f}", f"{seconds:.2f}", f"{first_s:.2f}",
            f"{exact_s / seconds:.1f}x", f"{statistics.mean(scores):.3f}",
            "-" if estimate is None else f"{estimate:.3f}",
            f"{len(result)} rows", met]


def main() -> None:
    quick = "--quick" in sys.argv
    only_archive = "--archive" in sys.argv
    videos = archive.shared() / "data" / "videos"
    con = vql.connect(settings=NO_CACHE)
    con.execute(f"CREATE VIDEO TABLE room FROM '{videos / 'one-by-one-person-detection.mp4'}'")
    con.execute(f"CREATE VIDEO TABLE intersection FROM '{videos / 'car-detection.mp4'}'")
    cases = [] if only_archive else list(SHARED)
    if not quick:
        path = archive.build(archive.default_path())
        con.execute(f"CREATE VIDEO TABLE archive FROM '{path}'")
        cases += ARCHIVE
    for name in (() if only_archive else ("room", "intersection")) + \
            (() if quick else ("archive",)):
        con.execute(f"ANALYZE {name}")  # costs measured ahead, as a deployment would
    headers = ["query", "exact s", "targeted s", "first run s", "speedup", "accuracy",
               "estimated", "result", "target met"]
    rows = []
    for case in cases:
        print(f"... {case.sql}", file=sys.stderr, flush=True)
        rows.append(run_case(con, case))
    print(table(headers, rows, len(rows)))
    speedups = [float(r[4][:-1]) for r, c in zip(rows, cases)
                if c.table == "archive" and r[4] != "-"]
    if speedups:
        print(f"median speedup on the archive: {statistics.median(speedups):.1f}x")


if __name__ == "__main__":
    os.environ.setdefault("VQL_SHARED", str(archive.shared()))
    warnings.simplefilter("ignore", vql.TargetNotOptimizedWarning)
    main()
