"""A batch run over an archive directory, resumable, from Python.

    python examples/batch_run.py [ARCHIVE_GLOB] [OUT_DIR]

The same as the command

    vql run examples/archive/people_per_video.sql --videos 'ARCHIVE_GLOB' \\
        --db OUT_DIR/archive.duckdb --out OUT_DIR/people.parquet

ARCHIVE_GLOB defaults to the shared videos ($VQL_SHARED/data/videos/*.mp4). Run it twice: the
second run finds every video finished and only writes the results again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow.parquet as pq

import vql
from vql.batch import ArchiveRun, RunProgress

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("VQL_SHARED") or HERE.parent / ".." / "shared")


def report(state: RunProgress) -> None:
    status = "done" if state.last_error is None else f"failed: {state.last_error}"
    print(f"[{state.done}/{state.total}] {Path(state.last).name}: {status}")


def main(archive: str, out_dir: Path) -> int:
    with vql.connect(str(out_dir / "archive.duckdb")) as con:
        run = ArchiveRun(con, HERE / "archive" / "people_per_video.sql", archive,
                         out=str(out_dir / "people.parquet"), progress=report)
        result = run.execute()
    print(f"{result.videos} videos: {result.skipped} finished earlier, {result.processed} "
          f"processed, {len(result.failures)} failed")
    for row in pq.read_table(out_dir / "people.parquet").to_pylist():
        print(f"  {Path(row['video_path']).name}: {row['frames_with_people']} of "
              f"{row['frames_seen']} sampled frames show people")
    return 0 if not result.failures else 2


if __name__ == "__main__":
    glob = sys.argv[1] if len(sys.argv) > 1 else str(SHARED / "data" / "videos" / "*.mp4")
    sys.exit(main(glob, Path(sys.argv[2]) if len(sys.argv) > 2 else Path.cwd()))
