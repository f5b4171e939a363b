"""Makers of bad (and borderline) input files for the bad-file table (issue 12).

Each maker takes a folder and returns the path of a new file in it. The videos are small
synthetic clips written with PyAV (no ffmpeg CLI needed): WIDTH x HEIGHT pixels of noise
(so that the media data, not the index, makes up the file, as in a real video) with a
bright block in the top-left corner of the upright picture (so that a rotation is visible).
Damaged files are made from these clips by cutting or overwriting bytes; the MP4 box
layout is read with :func:`boxes` so that damage can be aimed at the index or the media.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import typing as t
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

Maker = Callable[[Path], Path]

WIDTH, HEIGHT = 160, 96   # the upright picture; not square, so a 90-degree turn shows
FPS = 10
FRAMES = 30
BLOCK = (24, 32)          # (rows, columns) of the bright block at the upright top-left
VFR_STEPS_MS = (100, 40, 250, 60, 160, 100, 30, 300, 80, 120)  # irregular frame durations


def _av() -> t.Any:
    import pytest

    return pytest.importorskip("av", reason="PyAV makes the test videos (the dev extra has it)")


def upright_picture(index: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> np.ndarray:
    """Frame ``index`` as it should be displayed: dark noise, a white block top-left."""
    width, height = size
    rng = np.random.default_rng(index)
    picture = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    picture[:BLOCK[0], :BLOCK[1]] = 255
    return picture


def write_clip(path: Path, *, frames: int = FRAMES, codec: str = "libx264",
               rotation: int = 0, faststart: bool = False,
               pts_ms: Sequence[int] | None = None,
               container_options: dict[str, str] | None = None,
               metadata: dict[str, str] | None = None) -> Path:
    """Encode ``frames`` upright pictures into ``path`` (container from its extension).

    ``rotation``: clockwise degrees a player turns the stored picture for display (the old
    ``rotate`` tag; a phone held upright records 90); the stored picture is the upright one
    turned the other way, and the turn is written as the stream's display matrix.
    ``pts_ms``: each frame's presentation time in milliseconds (variable frame rate).
    """
    if codec.startswith("libvpx") and "decord" in sys.modules:
        return _write_clip_elsewhere(path, codec)
    av = _av()
    options = dict(container_options or {})
    if faststart:
        options["movflags"] = "faststart"
    with av.open(str(path), "w", options=options) as out:
        if metadata:
            out.metadata.update(metadata)
        stream = out.add_stream(codec, rate=FPS)
        stored = np.rot90(upright_picture(0), k=rotation // 90)  # rot90 turns anticlockwise
        stream.height, stream.width = stored.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": "10"} if codec == "libx264" else {}
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes anticlockwise degrees
        for index in range(frames):
            picture = np.ascontiguousarray(np.rot90(upright_picture(index), k=rotation // 90))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def _write_clip_elsewhere(path: Path, codec: str) -> Path:
    """``write_clip(path, codec=codec)`` in a fresh interpreter: once decord is loaded, its
    bundled libvpx is the one PyAV's libavcodec binds to, and opening a VP8/VP9 encoder
    fails ("avcodec_open2 ... returned 22")."""
    script = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
              "import badfiles; badfiles.write_clip(Path(sys.argv[2]), codec=sys.argv[3])")
    subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent), str(path), codec],
                   check=True, capture_output=True, timeout=60)
    return path


# --- the MP4 box layout -------------------------------------------------------------------

def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[str, int, int]]:
    """The (type, offset, size) of each top-level box between ``start`` and ``end``."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        elif size == 0:
            size = end - pos
        yield kind.decode("latin-1"), pos, size
        pos += max(size, 8)


def box(data: bytes, kind: str) -> tuple[int, int]:
    """(offset, size) of the first top-level box of type ``kind``."""
    for found, offset, size in boxes(data):
        if found == kind:
            return offset, size
    raise LookupError(f"no {kind} box")


def overwrite(path: Path, spans: Sequence[tuple[int, int]], seed: int = 12) -> Path:
    """Overwrite each (offset, length) span of ``path`` with random bytes, in place."""
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    for offset, length in spans:
        data[offset:offset + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


# --- the makers ---------------------------------------------------------------------------

def truncated(share: float, *, faststart: bool = True) -> Maker:
    """A clip cut after ``share`` of its bytes. With ``faststart`` the index (moov) comes
    first and survives, listing frames whose data is gone; without it the index is lost, as
    when a camera stops recording before it has written the index."""
    def make(folder: Path) -> Path:
        layout = "faststart" if faststart else "moovend"
        path = write_clip(folder / f"cut{int(share * 100)}-{layout}.mp4", faststart=faststart)
        data = path.read_bytes()
        path.write_bytes(data[:int(len(data) * share)])
        return path
    return make


def garbage_middle(folder: Path) -> Path:
    """5 % of the file's bytes overwritten with random bytes at its middle."""
    path = write_clip(folder / "garbage-middle.mp4")
    size = path.stat().st_size
    return overwrite(path, [(size // 2, size // 20)])


def garbage_in_mdat(folder: Path) -> Path:
    """Three short runs of random bytes (1 % of the media data each) inside the mdat box
    only: the index and every box header stay intact, some frames' data does not."""
    path = write_clip(folder / "garbage-mdat.mp4", faststart=True)
    offset, size = box(path.read_bytes(), "mdat")
    run = size // 100
    return overwrite(path, [(offset + 16 + size * k // 4, run) for k in (1, 2, 3)])


def garbage_in_moov(folder: Path) -> Path:
    """Random bytes over the middle half of the moov box (the index: sample sizes, offsets,
    times), its header and the media data intact."""
    path = write_clip(folder / "garbage-moov.mp4")
    offset, size = box(path.read_bytes(), "moov")
    return overwrite(path, [(offset + size // 4, size // 2)])


def rotated(degrees: int) -> Maker:
    """A clip whose display matrix turns it ``degrees`` clockwise (a phone video)."""
    def make(folder: Path) -> Path:
        return write_clip(folder / f"rotated{degrees}.mp4", rotation=degrees)
    return make


def display_rotation(path: Path) -> int:
    """The clockwise turn, in degrees, that the file's display matrix asks for (read back
    with PyAV, whose ``VideoFrame.rotation`` is anticlockwise)."""
    av = _av()
    with av.open(str(path)) as source:
        frame = next(source.decode(video=0))
        return int(-frame.rotation) % 360


def vfr_times_ms(frames: int = FRAMES) -> list[int]:
    """The presentation times of :func:`variable_frame_rate`'s frames, milliseconds."""
    return [sum(VFR_STEPS_MS[i % len(VFR_STEPS_MS)] for i in range(k)) for k in range(frames)]


def variable_frame_rate(folder: Path) -> Path:
    """Frames at irregular times (30 to 300 ms apart), as phones and screen recorders write."""
    return write_clip(folder / "vfr.mp4", pts_ms=vfr_times_ms())


def huge_metadata(folder: Path) -> Path:
    """A 2 MiB comment tag in the index, which comes first (faststart): a huge header."""
    return write_clip(folder / "huge-metadata.mp4", faststart=True,
                      metadata={"comment": "x" * (2 << 20)})


def huge_free_box(folder: Path) -> Path:
    """The index at the start followed by a 4 MB free box before the media (moov_size)."""
    return write_clip(folder / "huge-free.mp4", container_options={"moov_size": "4000000"})


def moov_at_end(folder: Path) -> Path:
    """The index after the media (what PyAV/FFmpeg write by default)."""
    return write_clip(folder / "moov-end.mp4")


def faststart(folder: Path) -> Path:
    """The index before the media (movflags=faststart), for contrast with moov_at_end."""
    return write_clip(folder / "faststart.mp4", faststart=True)


def one_frame(folder: Path) -> Path:
    return write_clip(folder / "one-frame.mp4", frames=1)


def container(suffix: str, codec: str) -> Maker:
    """The clip in another container (.mkv, .webm, .avi, .ts, .mov)."""
    def make(folder: Path) -> Path:
        return write_clip(folder / f"clip{suffix}", codec=codec)
    return make


def zero_bytes(folder: Path) -> Path:
    path = folder / "empty.mp4"
    path.write_bytes(b"")
    return path


def text_file(folder: Path) -> Path:
    path = folder / "notes.mp4"
    path.write_text("These are meeting notes, not a video.\n" * 50)
    return path


def audio_only(suffix: str = ".mp4") -> Maker:
    """One second of a 440 Hz tone, AAC in an MP4 (.mp4 or .m4a) with no video stream."""
    def make(folder: Path) -> Path:
        av = _av()
        path = folder / f"audio{suffix}"
        rate = 44100
        with av.open(str(path), "w", format="mp4") as out:
            stream = out.add_stream("aac", rate=rate)
            stream.layout = "mono"
            for start in range(0, rate, 1024):
                tone = np.sin(2 * np.pi * 440 * (start + np.arange(1024)) / rate)
                frame = av.AudioFrame.from_ndarray((0.3 * tone).astype(np.float32)[None, :],
                                                   format="fltp", layout="mono")
                frame.sample_rate, frame.pts = rate, start
                out.mux(stream.encode(frame))
            out.mux(stream.encode())
        return path
    return make


def image(suffix: str, name: str) -> Maker:
    """The upright picture as a still image (``suffix`` .png or .jpg, its encoding) saved
    under ``name`` (e.g. photo.mp4: an image named as a video)."""
    def make(folder: Path) -> Path:
        import cv2

        ok, encoded = cv2.imencode(suffix, upright_picture(0)[:, :, ::-1])
        assert ok, f"OpenCV cannot encode {suffix}"
        path = folder / name
        path.write_bytes(encoded.tobytes())
        return path
    return make
