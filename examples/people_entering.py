"""When does a person enter the room? Answered in SQL, with a short clip of each entrance.

    python examples/people_entering.py [OUT_DIR]

Looks at two frames per second, finds the moments a person appears after two seconds of
nobody (a window function over the detector's answers), and renders OUT_DIR/entrance-<n>.mp4 around
each of the first two. Needs the shared data ($VQL_SHARED, default ../shared).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import vql

SHARED = Path(os.environ.get("VQL_SHARED") or Path(__file__).resolve().parents[1] / ".." /
              "shared")

# SAMPLE applies to every read of a video table in the statement (it ends the statement).
ENTRANCES = """
WITH seen AS (
    SELECT frame_id, ts, has_object(frame, 'person') AS person FROM room
)
SELECT frame_id, round(ts, 1) AS ts FROM (
    SELECT *, coalesce(bool_or(person) OVER (ORDER BY frame_id
                       ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING), false) AS seen_before
    FROM seen
) WHERE person AND NOT seen_before
ORDER BY frame_id
SAMPLE 2 FPS
"""


def main(out_dir: Path) -> int:
    video = SHARED / "data" / "videos" / "one-by-one-person-detection.mp4"
    with vql.connect(":memory:") as con:
        cur = con.cursor()
        cur.execute("LOAD VIDEO ? INTO room", [str(video)])
        entrances = cur.execute(ENTRANCES).fetchall()
        print(f"a person enters {len(entrances)} times:")
        for frame_id, ts in entrances:
            print(f"  at {ts:6.1f} s (frame {frame_id})")
        for number, (frame_id, _) in enumerate(entrances[:2], start=1):
            target = out_dir / f"entrance-{number}.mp4"
            cur.execute(f"RENDER '{target}' AS SELECT path, frame_id, ts, detect(frame) AS "
                        "objects FROM room WHERE frame_id BETWEEN ? AND ? SAMPLE 5 FPS",
                        [frame_id - 10, frame_id + 20])
            print(f"clip: {cur.fetchone()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()))
