"""Read a video file's metadata (no pixels beyond what opening the file costs)."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import glob
import hashlib
import os
import re
import sys
import tempfile
import threading
import typing as t
from collections.abc import Iterator
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
    """A file's (size in bytes, modification time): a changed file is probed again."""
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
    """Open ``path`` with decord and read its metadata; raises VideoError on any failure, in
    words that include what FFmpeg said about the file (see ``native_log``)."""
    size, mtime = file_fingerprint(path)
    if size == 0:
        raise VideoError(path, "the file is empty (0 bytes)")
    with native_log() as said:
        found = _probe(path, size, mtime, said)
    return dataclasses.replace(found, sha256=_sha256(path))  # outside the window: it is long


def _probe(path: str, size: int, mtime: float, said: NativeLog) -> VideoProbe:
    import decord

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
        _check_last_frame(path, reader, frames, said)
    except VideoError:
        raise
    except Exception as error:  # decord raises RuntimeError/DECORDError with FFmpeg's words
        raise VideoError(path, _reason(path, error, said)) from error
    return VideoProbe(
        path=path, size=size, mtime=mtime, sha256="", fps=fps, frames=frames,
        width=int(first[1]), height=int(first[0]), duration=end, codec=_codec(path),
        keyframes=keyframes, timestamps=timestamps,
    )


def _reason(path: str, error: Exception, said: NativeLog) -> str:
    """Why decord could not open ``path``, in words (its own message is a C++ check or
    "Error reading PATH...", FFmpeg's lines say more)."""
    text = str(error)
    damage = _mp4_damage(path)
    if damage:
        return f"the file is damaged or cut short: {damage}; repair or re-encode it{said.words()}"
    if "cannot find video stream" in text:
        return ("the file holds no video stream that can be read (audio only, or a damaged "
                f"index){said.words()}")
    if "av_read_frame failed" in text:
        return ("the file is damaged or cut short: its frames cannot be read from where its "
                f"index says they are; repair or re-encode it{said.words()}")
    if said.lines():
        return f"not a decodable video{said.words()}"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else type(error).__name__
    return f"not a decodable video ({_NATIVE_PREFIX.sub('', reason)})"


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


def _check_last_frame(path: str, reader: t.Any, frames: int, said: NativeLog) -> None:
    """Refuse a file cut short: its index lists frames whose data is gone, so every query
    that reaches them would fail (decoding the last one costs at most a keyframe interval)."""
    try:
        reader.get_batch([frames - 1]).asnumpy()
    except Exception as error:  # decord raises DECORDError with FFmpeg's words
        raise VideoError(path, f"the file is damaged or cut short: its last frame ({frames - 1} "
                               f"of {frames} listed) cannot be decoded; repair or re-encode "
                               f"it{said.words()}") from error


def probe_all(source: str) -> list[VideoProbe]:
    """Probe every file a path or glob names; the first bad file raises."""
    return [probe(path) for path in expand_source(source)]


# --- FFmpeg's and decord's own lines ----------------------------------------------------------
#
# decord's C++ code and the FFmpeg inside it write to file descriptor 2 directly, past Python's
# sys.stderr: "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55..] moov atom not found", "[14:07:33]
# /github/workspace/src/video/video_reader.cc:83: ERROR opening: ...". decord bundles its own
# FFmpeg (decord.libs/libavutil-*.so.56), so PyAV's ``av.logging`` sets the level of another
# copy and cannot reach these. Two things keep them off the terminal:
# - while a file is opened or probed (``native_log``), fd 2 points at a temporary file; the
#   lines caught become words in the VideoError ("(FFmpeg: moov atom not found)"), and any
#   other line written meanwhile (a Python warning from another thread) is passed on to the
#   real stderr when the window closes. fd 2 is the process's, so windows are serialised by a
#   lock and kept to the opening calls;
# - outside those windows decord's FFmpeg is told to log nothing (av_log_set_level through
#   ctypes): decoding frames damaged in the middle of a file printed lines per packet ("Invalid
#   NAL unit size"), from decord's own read-ahead threads too; DamagedVideoWarning names the
#   frames instead.

_FFMPEG_LINE = re.compile(r"^\[[^\]\n]* @ (?:0x)?[0-9a-fA-F]+\] ?")   # [h264 @ 0x55..]
_DECORD_LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] [^ \n]+\.(?:cc|cpp|h):\d+: ")  # [14:07:33] a.cc:83:
_NATIVE_PREFIX = re.compile(f"{_FFMPEG_LINE.pattern}|{_DECORD_LINE.pattern}")
_AV_LOG_QUIET, _AV_LOG_ERROR = -8, 16
_MOST_WORDS = 4  # distinct lines quoted in an error; the rest are counted


class NativeLog:
    """The lines FFmpeg and decord wrote to fd 2 during a ``native_log`` window."""

    def __init__(self, sink: t.IO[bytes] | None):
        self._sink = sink

    def raw(self) -> bytes:
        """Everything fd 2 received so far in the window (C writes to stderr unbuffered)."""
        if self._sink is None:
            return b""
        return os.pread(self._sink.fileno(), os.fstat(self._sink.fileno()).st_size, 0)

    def lines(self) -> list[str]:
        """FFmpeg's and decord's lines, without their prefixes ("moov atom not found")."""
        text = self.raw().decode("utf-8", errors="replace")
        return [_native_words(line) for line in text.splitlines() if _is_native(line)]

    def words(self) -> str:
        """`` (FFmpeg: ...; ...)`` to append to an error message, or "" when it said nothing."""
        distinct = list(dict.fromkeys(line for line in self.lines() if line))
        if not distinct:
            return ""
        more = len(distinct) - _MOST_WORDS
        shown = "; ".join(distinct[:_MOST_WORDS]) + (f"; {more} more" if more > 0 else "")
        return f" (FFmpeg: {shown})"


def _is_native(line: str) -> bool:
    return bool(_FFMPEG_LINE.match(line) or _DECORD_LINE.match(line))


def _native_words(line: str) -> str:
    """A line without its prefix; decord's "ERROR opening: PATH, why" keeps the why (FFmpeg's
    av_strerror text), as the path is in the error already."""
    words = _NATIVE_PREFIX.sub("", line, count=1).strip()
    opening = re.match(r"ERROR opening: .*, ([^,]+)$", words)
    return opening.group(1) if opening else words


_window = threading.RLock()
_open_window: NativeLog | None = None  # the window the lock's holder has open


@contextlib.contextmanager
def native_log() -> Iterator[NativeLog]:
    """Catch what FFmpeg and decord write to fd 2 while the block runs (see above). Windows
    are one at a time in the process; one opened inside another by the same thread is the
    outer one. Without a usable fd 2 (closed) or temporary file nothing is caught."""
    global _open_window
    with _window:
        if _open_window is not None:
            yield _open_window
            return
        with _redirected_stderr() as sink:
            _open_window = log = NativeLog(sink)
            _set_decoder_log_level(_AV_LOG_ERROR)
            try:
                yield log
            finally:
                _set_decoder_log_level(_AV_LOG_QUIET)
                _open_window = None


@contextlib.contextmanager
def _redirected_stderr() -> Iterator[t.IO[bytes] | None]:
    """fd 2 points at a temporary file (yielded) in the block; then it is restored and the
    file's lines that are not FFmpeg's or decord's are written to it."""
    with contextlib.ExitStack() as stack:
        try:
            sink = stack.enter_context(tempfile.TemporaryFile(prefix="vql-ffmpeg-"))
            saved = os.dup(2)
        except OSError:  # no fd 2, or no temporary file: nothing is caught
            sink = None
        if sink is None:
            yield None
            return
        stack.callback(os.close, saved)
        try:
            _flush_python_stderr()
            os.dup2(sink.fileno(), 2)
            yield sink
        finally:
            _flush_python_stderr()
            os.dup2(saved, 2)
            _pass_on(NativeLog(sink).raw())


def _flush_python_stderr() -> None:
    stream = sys.stderr
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to keep
            stream.flush()


def _pass_on(caught: bytes) -> None:
    """Write the lines caught in a window that are not FFmpeg's or decord's to the real fd 2."""
    others = [line for line in caught.splitlines(keepends=True)
              if not _is_native(line.decode("utf-8", errors="replace"))]
    if others:
        with contextlib.suppress(OSError):
            os.write(2, b"".join(others))


def _set_decoder_log_level(level: int) -> None:
    library = _decoder_avutil()
    if library is not None:
        library.av_log_set_level(level)


@functools.cache
def _decoder_avutil() -> ctypes.CDLL | None:
    """decord's own libavutil (its wheels bundle FFmpeg beside the package: decord.libs on
    Linux, .dylibs on macOS); None when it is not found (a decord built against the system's
    FFmpeg): then only the opening windows keep FFmpeg's lines off the terminal."""
    try:
        import decord
    except ImportError:  # probing says so itself
        return None
    package = Path(decord.__file__).resolve().parent
    for folder in (package.parent / "decord.libs", package / ".dylibs", package):
        for candidate in sorted(folder.glob("*avutil*")):
            try:
                return ctypes.CDLL(str(candidate))
            except OSError:
                continue
    return None


__all__ = ["NativeLog", "VideoProbe", "expand_source", "file_fingerprint", "native_log",
           "probe", "probe_all", "Path"]
