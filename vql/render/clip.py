"""Annotated frames of a query's result, as a short clip (.mp4, .avi) or a folder of PNGs."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from vql.errors import OperationalError, ProgrammingError
from vql.exec.decode import FrameReader
from vql.render.draw import annotate

# A clip is short: past this many rows the rest are left out, and the answer says so.
MAX_FRAMES = 1000
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}
NEEDED = ("path", "frame_id")


@dataclass(frozen=True, slots=True)
class Rendered:
    path: str
    items: int          # frames drawn (a clip) or points plotted (a timeline)
    left_out: int = 0   # rows past the limit


class _VideoSink:
    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self.writer: t.Any = None
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray, name: str) -> None:
        import cv2

        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            fourcc = cv2.VideoWriter.fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
            if not self.writer.isOpened():
                raise OperationalError(f"cannot write a video to {str(self.path)!r}")
        if (image.shape[1], image.shape[0]) != self.size:  # frames of another video's size
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(np.ascontiguousarray(image[..., ::-1]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


class _ImageSink:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.count = 0

    def write(self, image: np.ndarray, name: str) -> None:
        import cv2

        self.count += 1
        target = self.folder / f"{self.count:05d}_{name}.png"
        if not cv2.imwrite(str(target), np.ascontiguousarray(image[..., ::-1])):
            raise OperationalError(f"cannot write {str(target)!r}")

    def close(self) -> None:
        """Nothing stays open: ``write`` writes each image whole."""


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
                fps: float | None = None, threads: int = 2) -> Rendered:
    """Draw each row of ``reader`` (which must have ``path`` and ``frame_id``) on its frame
    and write the frames, in row order, to ``out``: a ``.mp4``/``.avi`` clip or a folder of
    PNGs. A clip plays at ``fps``, by default the video's rate divided by the usual step
    between the rows' frames (so sampled rows play in real time)."""
    missing = [c for c in NEEDED if c not in reader.schema.names]
    if missing:
        raise ProgrammingError(f"to render a result, select the columns {', '.join(NEEDED)} "
                               f"(missing: {', '.join(missing)})")
    target = Path(out)
    suffix = target.suffix.lower()
    if suffix and suffix not in VIDEO_CODECS:
        raise ProgrammingError(f"cannot render to {str(out)!r}: write a clip ("
                               f"{', '.join(VIDEO_CODECS)}) or a folder of images (no suffix)")
    columns = reader.schema.names
    sink: _VideoSink | _ImageSink | None = None if suffix else _ImageSink(target)
    drawn = left_out = 0
    readers: dict[str, FrameReader] = {}
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
                sink = _VideoSink(target, fps or _playback_rate(readers[path], rows))
            for row, frame in zip(rows, frames, strict=True):
                sink.write(annotate(frame, row, columns),
                           f"{Path(path).stem}_{row['frame_id']}")
                drawn += 1
    finally:
        if sink is not None:
            sink.close()
    if drawn == 0:
        raise ProgrammingError("the query returned no rows: there is nothing to render")
    return Rendered(str(target), drawn, left_out)


def _playback_rate(reader: FrameReader, rows: list[dict[str, t.Any]]) -> float:
    ids = [int(r["frame_id"]) for r in rows]
    steps = [b - a for a, b in zip(ids, ids[1:]) if b > a]
    step = float(np.median(steps)) if steps else 1.0
    return max(reader.fps / step, 1.0)
