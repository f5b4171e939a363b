"""Read a video file's metadata (no pixels beyond what opening the file costs)."""

from __future__ import annotations

import glob
import hashlib
import os
import typing as t
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vql.errors import VideoError


@dataclass(frozen=True, slots=True)
class VideoProbe:
    """What the catalog stores about one video file."""

    path: str
    size: int
    mtime: float
    sha256: str
    fps: float
    frames: int
    width: int
    height: int
    duration: float
    codec: str
    keyframes: tuple[int, ...]
    timestamps: np.ndarray  # presentation time of each frame, seconds (float64)


def expand_source(source: str) -> list[str]:
    """The files a path or glob names, absolute and sorted. A glob matching nothing is an error."""
    pattern = os.path.expanduser(source)
    if glob.has_magic(pattern):
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise VideoError(source, "the glob matches no file")
        return [os.path.abspath(p) for p in matches]
    if not os.path.exists(pattern):
        raise VideoError(source, "no such file")
    if os.path.isdir(pattern):
        raise VideoError(source, "is a directory (use a glob such as 'dir/*.mp4')")
    return [os.path.abspath(pattern)]


def file_fingerprint(path: str) -> tuple[int, float]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _codec(path: str) -> str:
    import cv2

    capture = cv2.VideoCapture(path)
    try:
        code = int(capture.get(cv2.CAP_PROP_FOURCC))
    finally:
        capture.release()
    text = code.to_bytes(4, "little").decode("ascii", errors="replace").strip("\x00 ")
    return text or "unknown"


def probe(path: str) -> VideoProbe:
    """Open ``path`` with decord and read its metadata; raises VideoError on any failure."""
    import decord

    size, mtime = file_fingerprint(path)
    if size == 0:
        raise VideoError(path, "the file is empty (0 bytes)")
    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
        frames = len(reader)
        if frames == 0:
            raise VideoError(path, "the file holds no video frames")
        first = reader[0].shape
        # decord reports float32 seconds; rounding to 0.1 ms removes the float32 noise
        # (0.10000000149 -> 0.1) and keeps every real frame time distinct.
        timestamps = np.round(np.asarray(
            reader.get_frame_timestamp(np.arange(frames))[:, 0], dtype=np.float64), 4)
        keyframes = tuple(int(k) for k in reader.get_key_indices())
        fps = float(reader.get_avg_fps())
        end = round(float(reader.get_frame_timestamp(frames - 1)[1]), 4)
        _check_timestamps(path, timestamps)
        _check_last_frame(path, reader, frames)
    except VideoError:
        raise
    except Exception as error:  # decord raises RuntimeError/DECORDError with FFmpeg's words
        raise VideoError(path, _reason(path, error)) from error
    return VideoProbe(
        path=path, size=size, mtime=mtime, sha256=_sha256(path), fps=fps, frames=frames,
        width=int(first[1]), height=int(first[0]), duration=end, codec=_codec(path),
        keyframes=keyframes, timestamps=timestamps,
    )


def _reason(path: str, error: Exception) -> str:
    """Why decord could not open ``path``, in words (its own message is a C++ check)."""
    text = str(error)
    damage = _mp4_damage(path)
    if damage:
        return f"the file is damaged or cut short: {damage}; repair or re-encode it"
    if "cannot find video stream" in text:
        return "the file holds no video stream that can be read (audio only, or a damaged index)"
    if "av_read_frame failed" in text:
        return ("the file is damaged or cut short: its frames cannot be read from where its "
                "index says they are; repair or re-encode it")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else type(error).__name__
    return f"not a decodable video ({reason.split('] ')[-1][:200]})"


def _mp4_damage(path: str) -> str | None:
    """What is wrong with an MP4/MOV file's top-level boxes (ISO base media format), if it is
    one: a box that runs past the end of the file (cut short), or no index (moov box), as
    when a recording stops before the camera writes it. None for other formats."""
    try:
        return _box_damage(path)
    except OSError:  # unreadable: decord's own reason stands
        return None


def _box_damage(path: str) -> str | None:
    size = os.path.getsize(path)
    found: list[str] = []
    with open(path, "rb") as handle:
        position = 0
        while position + 8 <= size:
            handle.seek(position)
            header = handle.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:  # the last box, to the end of the file
                length = size - position
            if not found and kind != b"ftyp":
                return None  # not an MP4/MOV file (or one without ftyp): decord decides
            if length < 8:
                return f"its box at byte {position} has an impossible size ({length})"
            name = kind.decode("latin-1")
            found.append(name)
            if position + length > size:
                return (f"its '{name}' box declares {length} bytes at byte {position}, but the "
                        f"file ends {size - position} bytes after it starts")
            position += length
    if found and "moov" not in found:
        return "it has no index (moov box), as when a recording stops before it is finished"
    return None


def _check_timestamps(path: str, timestamps: np.ndarray) -> None:
    """Refuse a video whose frames do not carry increasing presentation timestamps (an encoder
    that never set them writes 0 on every packet): VQL samples and fills by time, and decord's
    seeking in such a file is slow or never returns."""
    repeats = int(np.count_nonzero(np.diff(timestamps) <= 0)) if len(timestamps) > 1 else 0
    if not repeats:
        return
    raise VideoError(path, f"its frames carry no usable timestamps ({repeats} of "
                           f"{len(timestamps)} frames are not later than the frame before; "
                           f"{len(np.unique(timestamps))} distinct times from "
                           f"{timestamps.min():g} s to {timestamps.max():g} s), so it can be "
                           "neither sampled by time nor sought in; re-encode it with "
                           "timestamps, e.g. ffmpeg -i IN -vf \"setpts=N/(RATE*TB)\" OUT with its "
                           "real frame rate for RATE")


def _check_last_frame(path: str, reader: t.Any, frames: int) -> None:
    """Refuse a file cut short: its index lists frames whose data is gone, so every query
    that reaches them would fail (decoding the last one costs at most a keyframe interval)."""
    try:
        reader.get_batch([frames - 1]).asnumpy()
    except Exception as error:  # decord raises DECORDError with FFmpeg's words
        raise VideoError(path, f"the file is damaged or cut short: its last frame ({frames - 1} "
                               f"of {frames} listed) cannot be decoded; repair or re-encode "
                               "it") from error


def probe_all(source: str) -> list[VideoProbe]:
    """Probe every file a path or glob names; the first bad file raises."""
    return [probe(path) for path in expand_source(source)]


__all__ = ["VideoProbe", "expand_source", "probe", "probe_all", "file_fingerprint", "Path"]
