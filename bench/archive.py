"""A long archive for the optimizer benchmark, built deterministically from a shared video.

    python bench/archive.py [out.mp4]      # default: $VQL_BENCH_DIR/archive.mp4

The room clip (one-by-one-person-detection.mp4, 768x432, 10 fps, 139.4 s) is re-encoded nine
times in a row, alternately forwards and backwards and every second pass mirrored left-right,
into one 10 fps MPEG-4 file of 12,546 frames (20.9 minutes). The same inputs give the same
frames; the file is rebuilt only when it is missing.
"""

from __future__ import annotations

import os
import sys
import typing as t
from pathlib import Path

PASSES = 9
SOURCE = "one-by-one-person-detection.mp4"


def shared() -> Path:
    return Path(os.environ.get("VQL_SHARED", Path(__file__).resolve().parents[1] / ".." /
                               "shared")).resolve()


# The shared videos as the benchmarks name their tables.
TABLES = {"room": "one-by-one-person-detection.mp4", "intersection": "car-detection.mp4",
          "bottles": "bottle-detection.mp4"}


def create_tables(con: t.Any) -> None:
    """The three shared videos as video tables on ``con`` (a vql connection)."""
    for name, file in TABLES.items():
        con.execute(f"CREATE VIDEO TABLE {name} FROM '{shared() / 'data' / 'videos' / file}'")


def default_path() -> Path:
    folder = Path(os.environ.get("VQL_BENCH_DIR", Path.home() / ".cache" / "vql" / "bench"))
    return folder / "archive.mp4"


def build(out: Path) -> Path:
    """Write the archive to ``out`` unless it exists; returns its path."""
    if out.is_file() and out.stat().st_size > 0:
        return out
    import cv2
    import decord

    source = shared() / "data" / "videos" / SOURCE
    if not source.is_file():
        raise SystemExit(f"{source} not found: set VQL_SHARED to the shared folder")
    reader = decord.VideoReader(str(source), ctx=decord.cpu(0))
    frames = reader.get_batch(list(range(len(reader)))).asnumpy()  # RGB, ~1.4 GB
    height, width = frames.shape[1:3]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.mp4")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                             (width, height))
    for index in range(PASSES):
        order = range(len(frames)) if index % 2 == 0 else range(len(frames) - 1, -1, -1)
        for i in order:
            frame = frames[i][..., ::-1]  # BGR for OpenCV
            if index % 4 in (2, 3):
                frame = frame[:, ::-1]
            writer.write(frame.copy())
    writer.release()
    partial.rename(out)
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else default_path()))
