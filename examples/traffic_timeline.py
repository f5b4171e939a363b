"""Traffic on the road video through the Python DB-API, ending in a timeline picture.

    python examples/traffic_timeline.py [OUT_DIR]

Writes OUT_DIR/traffic-timeline.png (default: the current folder): vehicle_count and congested
over the road video, computed under a 2-second latency target (the plan samples frames and
fills the others from the nearest processed one), with the processed and filled frames marked. Needs the shared data ($VQL_SHARED, default ../shared).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import vql
from vql.render import render_timeline

SHARED = Path(os.environ.get("VQL_SHARED") or Path(__file__).resolve().parents[1] / ".." /
              "shared")


def main(out_dir: Path) -> int:
    video = SHARED / "data" / "videos" / "car-detection.mp4"
    with vql.connect(":memory:") as con:
        cur = con.cursor()
        cur.execute("LOAD VIDEO ? INTO intersection", [str(video)])
        # A target lets the optimizer sample and fill; `computed` says which rows it processed.
        cur.execute("SELECT path, ts, vehicle_count, congested, computed FROM intersection "
                    "WITH LATENCY 2s")
        table = cur.fetch_arrow_table()
        estimate = cur.estimated_accuracy  # None: the plan's accuracy was not profiled
        accuracy = "not profiled" if estimate is None else f"{estimate:.3f}"
        filled = cur.stats.rows_filled if cur.stats else 0
        print(f"{table.num_rows} frames, {filled} filled; estimated accuracy {accuracy}")
        congested = sum(table.column("congested").to_pylist())
        print(f"congested in {congested} of {table.num_rows} frames "
              f"({congested / table.num_rows:.0%})")
        picture = render_timeline(table, out_dir / "traffic-timeline.png")
        print(f"timeline: {picture.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
