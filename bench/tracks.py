"""Track queries: the optimizer's plan against running the tracker on every frame.

    python bench/tracks.py [--quick]   # needs $VQL_SHARED (default ../shared); --quick: no archive

For each query: the exact plan's time (the query without its target: the detector and the
tracker on every frame), then the targeted query run three times on one connection without the
result cache (the first run records the exact run, the second runs the sampling rates for real
against it, the third runs the chosen plan: a tracker that predicts motion over the real time
between the sampled frames). The speedup is the exact time over the third run's. "answer"
gives the exact plan's answer and the optimized one's (a count, or the number of tracks);
"by eye" is the number of objects a person counts (tests/labels/); "accuracy" is the
optimized result scored against the exact one as the optimizer scores it
(1 - relative error for a count, identity F1 for a list of tracks). "decode s" is the time to
decode every frame and nothing else (``avg(brightness(frame))``): the floor of a plan that
decodes every frame. The archive is the 20.9-minute file bench/archive.py builds from the
room video. Target: counts equal, >= 10x faster.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import archive  # noqa: E402
from optimizer import NO_CACHE, exact  # noqa: E402

import vql  # noqa: E402
from vql.accuracy import column_scores, lowest  # noqa: E402
from vql.shell.format import table  # noqa: E402

RUNS = 3


@dataclass
class Case:
    table: str
    sql: str  # a count of tracks or a list of them, with its target
    labels: str  # the file of tests/labels/ that lists the objects a person sees, one a row
    repeat: int = 1  # passes of the labelled video in the table's video (bench/archive.py)


SHARED = [
    Case("room", "SELECT count(*) FROM tracks(room, 'person') WITH ACCURACY 0.9",
         "room_people.csv"),
    Case("room", "SELECT track_id, first_ts, last_ts FROM tracks(room, 'person') "
                 "WITH ACCURACY 0.9", "room_people.csv"),
    Case("intersection", "SELECT count(*) FROM tracks(intersection, 'vehicle') "
                         "WITH ACCURACY 0.9", "road_vehicles.csv"),
    # FastestDet calls the arms that reach in to move the bottles 'person'
    Case("bottles", "SELECT count(*) FROM tracks(bottles, 'person') WITH ACCURACY 0.9",
         "bottle_reaches.csv"),
    # the example's own detector of the arms (examples/sleeves.py)
    Case("bottles", "SELECT count(*) FROM tracks(bottles, 'red_sleeves') WITH ACCURACY 0.9",
         "bottle_reaches.csv"),
]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ARCHIVE = [Case("archive", "SELECT count(*) FROM tracks(archive, 'person') WITH ACCURACY 0.9",
                "room_people.csv", archive.PASSES)]  # each pass: the room empty at both ends
LABELS = Path(__file__).resolve().parents[1] / "tests" / "labels"


def labelled(case: Case) -> int:
    """How many objects a person counts (the rows of the case's labels file)."""
    with (LABELS / case.labels).open() as file:
        rows = [line for line in file if line.strip() and not line.startswith("#")]
    return (len(rows) - 1) * case.repeat  # less the header


def timed(con: vql.Connection, sql: str) -> tuple[pa.Table, float, vql.Cursor]:
    started = time.perf_counter()
    cur = con.execute(sql)
    result = cur.fetch_arrow_table()
    return result, time.perf_counter() - started, cur


def answer(result: pa.Table) -> int:
    """A count's value, or a list's number of tracks."""
    if result.num_columns == 1 and result.num_rows == 1:
        return int(result.column(0)[0].as_py())
    return result.num_rows


def run_case(con: vql.Connection, case: Case, decode_s: float) -> list[str]:
    reference, exact_s, _ = timed(con, exact(case.sql))
    runs = [timed(con, case.sql) for _ in range(RUNS)]
    optimized, repeat_s, cur = runs[-1]
    plan = "exact" if cur.tuning is None or cur.tuning.chosen is None else \
        cur.tuning.chosen.config.describe()
    shape = cur.tuning.shape if cur.tuning is not None else "aggregate"
    measured = lowest(column_scores(shape, reference, optimized))
    return [case.sql, f"{exact_s:.2f}", f"{decode_s:.2f}", f"{runs[0][1]:.2f}",
            f"{runs[1][1]:.2f}", f"{repeat_s:.2f}", f"{exact_s / repeat_s:.1f}x",
            f"{answer(reference)}/{answer(optimized)}", str(labelled(case)), f"{measured:.3f}",
            plan]


def decode_seconds(con: vql.Connection, name: str) -> float:
    return timed(con, f"SELECT avg(brightness(frame)) FROM {name}")[1]


def main() -> None:
    quick = "--quick" in sys.argv
    con = vql.connect(settings=NO_CACHE)
    archive.create_tables(con)
    con.execute(f"CREATE FUNCTION red_sleeves FROM '{EXAMPLES / 'sleeves.py'}'")
    cases = list(SHARED)
    if not quick:
        con.execute(f"CREATE VIDEO TABLE archive FROM '{archive.build(archive.default_path())}'")
        cases += ARCHIVE
    for name in {c.table for c in cases}:
        con.execute(f"ANALYZE {name}")  # costs measured ahead, as a deployment would
    decode = {name: decode_seconds(con, name) for name in {c.table for c in cases}}
    rows = []
    for case in cases:
        print(f"... {case.sql}", file=sys.stderr, flush=True)
        rows.append(run_case(con, case, decode[case.table]))
    headers = ["query", "exact s", "decode s", "first s", "second s", "optimized s", "speedup",
               "answer exact/optimized", "by eye", "accuracy", "plan"]
    print(table(headers, rows, len(rows)))
    print("optimized: the third targeted run (the chosen plan); first: records the exact run; "
          "second: runs the sampling rates for real against it; decode: every frame decoded, "
          "no function")

if __name__ == "__main__":
    os.environ.setdefault("VQL_SHARED", str(archive.shared()))
    warnings.simplefilter("ignore", vql.TargetNotOptimizedWarning)
    warnings.simplefilter("ignore", vql.FallbackWarning)
    main()
