"""`make demo`: load a video and ask it a question in SQL.

    python examples/demo.py [VIDEO]

With no VIDEO: uses car-detection.mp4 from the shared data ($VQL_SHARED, default ../shared)
when it is there, and otherwise makes a short clip by panning over ultralytics' bus.jpg.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import vql
from vql.shell import format as fmt
from vql.video.synthetic import pan_zoom_clip


def pick_video(argv: list[str], workdir: Path) -> tuple[Path, str]:
    if argv:
        return Path(argv[0]), "the video you gave"
    shared = Path(os.environ.get("VQL_SHARED", Path(__file__).resolve().parents[1] / ".." /
                                 "shared"))
    road = shared / "data" / "videos" / "car-detection.mp4"
    if road.is_file():
        return road, "car-detection.mp4 from the shared data"
    clip = pan_zoom_clip(workdir / "bus-pan.mp4")
    return clip, "a clip made by panning over ultralytics' bus.jpg (no shared data found)"


def show(cursor: vql.Cursor, sql: str) -> None:
    print(f"\nvql> {sql};")
    started = time.perf_counter()
    cursor.execute(sql)
    for _, message in cursor.messages:
        print(f"Warning: {message}")
    rows, total = fmt.window(cursor)
    print(fmt.table([d[0] for d in cursor.description or ()], rows, total))
    print(f"Run Time: {time.perf_counter() - started:.2f} s")


def main(argv: list[str]) -> int:
    import warnings

    warnings.simplefilter("ignore", vql.TargetNotOptimizedWarning)  # printed by show()
    with tempfile.TemporaryDirectory() as tmp:
        video, origin = pick_video(argv, Path(tmp))
        print(f"Video: {video} ({origin})")
        with vql.connect(":memory:") as con:
            cur = con.cursor()
            cur.execute("LOAD VIDEO ? INTO intersection", [str(video)])
            show(cur, "SELECT congested FROM intersection WITH LATENCY 2s")
            show(cur, "SELECT congested, count(*) AS frames, min(ts) AS first_seen, "
                      "max(ts) AS last_seen FROM intersection GROUP BY congested ORDER BY 1")
            show(cur, "SELECT frame_id, ts, vehicle_count, round(motion, 4) AS motion "
                      "FROM intersection SAMPLE 1 FPS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except vql.Error as error:
        print(fmt.error(error), file=sys.stderr)
        sys.exit(1)
