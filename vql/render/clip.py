"""Annotated frames of a query's result, as a short clip (.mp4 in H.264, .gif, .avi) or a
folder of PNGs (see ``vql.render.writers`` for how each is written)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vql.errors import ProgrammingError
from vql.exec.decode import FrameReader
from vql.render.draw import Trails, annotate
from vql.render.shapes import Shapes
from vql.render.writers import CLIP_SUFFIXES, Sink, open_sink

# A clip is short: past this many rows the rest are left out, and the answer says so.
MAX_FRAMES = 1000
NEEDED = ("path", "frame_id")


@dataclass(frozen=True, slots=True)
class Rendered:
    """What RENDER wrote: the file, how much it drew, the rows left out and the format."""

    path: str
    items: int          # frames drawn (a clip) or points plotted (a timeline)
    left_out: int = 0   # rows past the limit
    codec: str = ""     # a clip's or images' format: 'h264', 'mpeg4', 'gif', 'mjpeg', 'png'


def _rows(reader: pa.RecordBatchReader, limit: int) -> Iterator[tuple[list[dict[str, t.Any]], int]]:
    """Runs of rows of one video (at most ``limit`` rows in all), and the rows left out."""
    taken = 0
    for batch in reader:
        rows = batch.to_pylist()
        keep = rows[:max(limit - taken, 0)]
        taken += len(keep)
        start = 0
        for i in range(1, len(keep) + 1):
            if i == len(keep) or keep[i]["path"] != keep[start]["path"]:
                if keep[start:i]:
                    yield keep[start:i], 0
                start = i
        if len(rows) > len(keep):
            yield [], len(rows) - len(keep)


def render_clip(reader: pa.RecordBatchReader, out: str | Path, *, max_frames: int = MAX_FRAMES,
                fps: float | None = None, threads: int = 2,
                shapes: Shapes | None = None) -> Rendered:
    """Draw each row of ``reader`` (which must have ``path`` and ``frame_id``) on its frame
    and write the frames, in row order, to ``out``: a clip (``.mp4`` in H.264 where an
    encoder is installed, ``.gif``, ``.avi``) or a folder of PNGs (no suffix). A clip plays
    at ``fps``, by default the video's rate divided by the usual step between the rows'
    frames (so sampled rows play in real time). Frames have the first video's size (a GIF's
    at most ``writers.GIF_MAX_SIDE`` on the long side), plus the header strip above them.
    Tracked objects (``track``'s lists) trail the path of their last ``draw.TRAIL_FRAMES``
    frames, followed per column and video across the rows. ``shapes``: lines and zones
    drawn on every frame (``vql.render.shapes``: those the query names)."""
    missing = [c for c in NEEDED if c not in reader.schema.names]
    if missing:
        raise ProgrammingError(f"to render a result, select the columns {', '.join(NEEDED)} "
                               f"(missing: {', '.join(missing)})")
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix and suffix not in CLIP_SUFFIXES:
        raise ProgrammingError(f"cannot render to {str(out)!r}: write a clip ("
                               f"{', '.join(CLIP_SUFFIXES)}) or a folder of images (no suffix)")
    columns = reader.schema.names
    sink: Sink | None = None
    size: tuple[int, int] | None = None
    drawn = left_out = 0
    readers: dict[str, FrameReader] = {}
    trails = Trails()  # where each tracked object was, for the trail drawn behind it
    try:
        for rows, skipped in _rows(reader, max_frames):
            left_out += skipped
            if not rows:
                continue
            path = str(rows[0]["path"])
            if path not in readers:
                readers.clear()  # one open file at a time
                readers[path] = FrameReader(path, threads)
            frames, decoded = readers[path].read_or_skip(
                np.array([r["frame_id"] for r in rows]))
            rows = [row for row, ok in zip(rows, decoded, strict=True) if ok]  # damaged: left out
            if not rows:
                continue
            if sink is None:
                sink = open_sink(target, fps or _playback_rate(readers[path], rows))
                size = _output_size(frames[0], sink.max_side)
            assert size is not None
            for row, frame in zip(rows, frames, strict=True):
                picture, scale = _resized(frame, size)
                sink.write(annotate(picture, row, columns, scale, trails, shapes),
                           f"{Path(path).stem}_{row['frame_id']}")
                drawn += 1
    finally:
        if sink is not None:
            sink.close()
    if drawn == 0 or sink is None:
        raise ProgrammingError("the query returned no rows: there is nothing to render")
    return Rendered(str(target), drawn, left_out, sink.codec)


def _output_size(frame: np.ndarray, max_side: int | None) -> tuple[int, int]:
    """(width, height) of the drawn frames: the first frame's, scaled down to ``max_side``."""
    height, width = frame.shape[:2]
    factor = 1.0 if max_side is None else min(1.0, max_side / max(width, height))
    return max(1, round(width * factor)), max(1, round(height * factor))


def _resized(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, tuple[float, float]]:
    """``frame`` at ``size``, and the (x, y) factors that take its detections there. Scaling
    before drawing keeps the boxes and text of a small GIF sharp."""
    height, width = frame.shape[:2]
    if (width, height) == size:
        return frame, (1.0, 1.0)
    import cv2

    resized = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return resized, (size[0] / width, size[1] / height)


def _playback_rate(reader: FrameReader, rows: list[dict[str, t.Any]]) -> float:
    ids = [int(r["frame_id"]) for r in rows]
    steps = [b - a for a, b in zip(ids, ids[1:]) if b > a]
    step = float(np.median(steps)) if steps else 1.0
    return max(reader.fps / step, 1.0)
