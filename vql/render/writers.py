"""Where annotated frames go: a clip (.mp4, .gif, .avi) or a folder of PNG images.

* ``.mp4`` is H.264 (yuv420p, the moov atom first) through PyAV's FFmpeg with the first
  H.264 encoder it has (libx264, else libopenh264), so that browsers, Jupyter and VS Code play
  it. Without one (PyAV not installed, or built without an H.264 encoder) the clip is
  MPEG-4 part 2 through OpenCV ('mp4v', which pip's OpenCV wheels can write: they carry no
  H.264 encoder) and a ``FallbackWarning`` says that it may not play in a browser.
* ``.gif`` is written with Pillow (installed with matplotlib): it chooses the palette from
  the frames (median cut) and writes only what changed between frames, where FFmpeg's GIF
  encoder, without its two-pass palette filter graph, maps every frame onto one fixed
  palette. GIFs are kept small: at most ``GIF_MAX_SIDE`` pixels on the long side (the
  frame is scaled before it is drawn on, so text stays sharp) and 50 frames per second
  (browsers slow shorter delays down to 10 per second).
* ``.avi`` is Motion JPEG through OpenCV; no suffix is a folder of PNGs.

Every sink takes RGB frames of one size; the first frame fixes it.
"""

from __future__ import annotations

import typing as t
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from vql.errors import FallbackWarning, OperationalError
from vql.render.draw import PALETTE, STRIP_COLOUR, TEXT_COLOUR

H264_ENCODERS = ("libx264", "libopenh264")
GIF_MAX_SIDE = 512
GIF_MIN_DELAY_MS = 20


class Sink(t.Protocol):
    """What the frames are written to."""

    codec: str          # what the frames are written as: 'h264', 'mpeg4', 'gif', 'mjpeg', 'png'
    max_side: int | None  # frames are scaled down to this many pixels on the long side

    def write(self, image: np.ndarray, name: str) -> None:
        """Add one annotated RGB frame; ``name`` (video and frame) names it where files do."""

    def close(self) -> None:
        """Finish the output: write what is held back and close the file."""


def h264_encoder() -> str | None:
    """The H.264 encoder PyAV's FFmpeg has, or None (PyAV missing, or no such encoder)."""
    try:
        import av
    except ImportError:
        return None
    return next((name for name in H264_ENCODERS if name in av.codec.codecs_available), None)


def _mp4_sink(target: Path, fps: float) -> Sink:
    encoder = h264_encoder()
    if encoder is not None:
        return PyAVSink(target, fps, encoder)
    warnings.warn(FallbackWarning(
        f"{str(target)!r} is written as MPEG-4 part 2 ('mp4v'), which browsers, Jupyter and "
        "VS Code may not play: no H.264 encoder is installed (pip install av)"), stacklevel=4)
    return OpenCVSink(target, fps, "mp4v", "mpeg4")


def open_sink(target: Path, fps: float) -> Sink:
    """The sink for ``target``: a clip by its suffix, a folder of images without one."""
    suffix = target.suffix.lower()
    if suffix not in SINKS:
        raise OperationalError(f"no writer for {suffix!r} clips ({', '.join(CLIP_SUFFIXES)})")
    return SINKS[suffix](target, fps)


def _even(image: np.ndarray) -> np.ndarray:
    """``image`` with a black row or column added where its height or width is odd."""
    pad_y, pad_x = image.shape[0] % 2, image.shape[1] % 2
    if not (pad_y or pad_x):
        return image
    return np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)))


def _fitted(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` at ``size`` (width, height): a frame of another video of another size."""
    if (image.shape[1], image.shape[0]) == size:
        return image
    import cv2

    return t.cast(np.ndarray, cv2.resize(image, size, interpolation=cv2.INTER_AREA))


class PyAVSink:
    """An H.264 .mp4 through PyAV: yuv420p, BT.709 tagged, even dimensions, faststart."""

    max_side: int | None = None

    def __init__(self, path: Path, fps: float, encoder: str):
        import av

        self.path, self.codec = path, "h264"
        self.rate = Fraction(fps).limit_denominator(1001)
        try:
            self.container = av.open(str(path), mode="w", format="mp4",
                                     options={"movflags": "+faststart"})
        except OSError as error:
            raise OperationalError(f"cannot write a video to {str(path)!r}: {error}") from error
        self.encoder = encoder
        self.stream: t.Any = None
        self.size: tuple[int, int] | None = None

    def _open_stream(self, width: int, height: int) -> None:
        self.stream = self.container.add_stream(self.encoder, rate=self.rate)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        # Tagged BT.709 (1), the matrix the frames are converted with below, in limited range
        # (1: 16-235, what players expect of yuv420p): an untagged clip is guessed at, and
        # players guess differently. Older PyAV versions lack the primaries and transfer.
        for tag in ("colorspace", "color_range", "color_primaries", "color_trc"):
            if hasattr(self.stream.codec_context, tag):
                setattr(self.stream.codec_context, tag, 1)
        if self.encoder == "libx264":  # crisp text at about 1 MB per 10 s of 768x432
            self.stream.options = {"crf": "21", "preset": "veryfast"}
        self.size = (width, height)

    def write(self, image: np.ndarray, name: str) -> None:
        """Encode one RGB frame into the clip (padded to even sides, resized to the first
        frame's size)."""
        import av

        image = _even(image)
        if self.stream is None:
            self._open_stream(image.shape[1], image.shape[0])
        assert self.size is not None
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(_fitted(image, self.size)),
                                           format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="itu709",
                               dst_color_range="MPEG")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the frames the encoder holds, then close the .mp4."""
        try:
            if self.stream is not None:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
        finally:
            self.container.close()


class OpenCVSink:
    """A clip through OpenCV's VideoWriter ('mp4v' .mp4 or Motion JPEG .avi)."""

    max_side: int | None = None

    def __init__(self, path: Path, fps: float, fourcc: str, codec: str):
        self.path, self.fps, self.fourcc, self.codec = path, fps, fourcc, codec
        self.writer: t.Any = None
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray, name: str) -> None:
        """Write one RGB frame, resized to the first frame's size; the first opens the writer."""
        import cv2

        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*self.fourcc),
                                          self.fps, self.size)
            if not self.writer.isOpened():
                raise OperationalError(f"cannot write a video to {str(self.path)!r}")
        assert self.size is not None
        self.writer.write(np.ascontiguousarray(_fitted(image, self.size)[..., ::-1]))

    def close(self) -> None:
        """Release the VideoWriter, finishing the file (nothing if no frame was written)."""
        if self.writer is not None:
            self.writer.release()


class GifSink:
    """An animated GIF that loops, through Pillow. Frames share one palette (the first
    frame's colours, the class colours and the header's) while it fits them (see
    ``GIF_MAX_MISMATCH``): a shared palette lets Pillow store only what
    changed between frames, about a third of the size of one palette per frame. A frame it
    no longer fits (another scene, another video) starts a new one. Pillow writes a GIF in
    one go, so the frames are kept (one byte a pixel) until ``close``."""

    codec = "gif"
    max_side: int | None = GIF_MAX_SIDE

    def __init__(self, path: Path, fps: float):
        self.path = path
        # GIF delays are in hundredths of a second.
        self.delay_ms = max(GIF_MIN_DELAY_MS, round(100 / fps) * 10)
        self.frames: list[t.Any] = []
        self.palette: t.Any = None
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray, name: str) -> None:
        """Keep one RGB frame, quantized to the shared palette, or to a new one it fits better."""
        from PIL import Image

        if self.size is None:
            self.size = (image.shape[1], image.shape[0])
        pixels = np.ascontiguousarray(_fitted(image, self.size))
        picture = Image.fromarray(pixels, "RGB")
        if self.palette is not None:
            quantized = picture.quantize(palette=self.palette, dither=Image.Dither.NONE)
            if _badly_matched(quantized, pixels) <= GIF_MAX_MISMATCH:
                self.frames.append(quantized)
                return
        self.palette = _palette_for(picture)
        self.frames.append(picture.quantize(palette=self.palette, dither=Image.Dither.NONE))

    def close(self) -> None:
        """Write the kept frames as one looping GIF (nothing when there are none)."""
        if not self.frames:
            return
        first, *rest = self.frames
        try:
            first.save(self.path, format="GIF", save_all=True, append_images=rest,
                       duration=self.delay_ms, loop=0)
        except OSError as error:
            raise OperationalError(f"cannot write {str(self.path)!r}: {error}") from error
        finally:
            self.frames.clear()


# A frame starts a new palette when more than this share of its pixels is more than
# GIF_MISMATCH levels off in a channel: a car of a colour the palette lacks is a small part
# of the frame, which an average error would not notice.
GIF_MAX_MISMATCH = 0.005
GIF_MISMATCH = 24


def _palette_for(picture: t.Any) -> t.Any:
    """A 256-colour palette image: the colours boxes and the header are drawn in, exactly,
    and the rest chosen for ``picture`` (median cut)."""
    from PIL import Image

    fixed = [*PALETTE, STRIP_COLOUR, TEXT_COLOUR, (0, 0, 0)]
    chosen = picture.quantize(colors=256 - len(fixed), method=Image.Quantize.MEDIANCUT,
                              dither=Image.Dither.NONE)
    colours = (chosen.getpalette() or [])[:3 * (256 - len(fixed))]
    palette = Image.new("P", (1, 1))
    palette.putpalette([*colours, *(c for rgb in fixed for c in rgb)])
    return palette


def _badly_matched(quantized: t.Any, pixels: np.ndarray) -> float:
    """The share of pixels a palette image shows more than ``GIF_MISMATCH`` levels off."""
    back = np.asarray(quantized.convert("RGB"), dtype=np.int16)
    error = np.abs(back - pixels.astype(np.int16)).max(axis=2)
    return float(np.count_nonzero(error > GIF_MISMATCH) / error.size)


class ImageSink:
    """A folder of PNGs, one per row: ``00001_<video>_<frame>.png``."""

    codec = "png"
    max_side: int | None = None

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.count = 0

    def write(self, image: np.ndarray, name: str) -> None:
        """Save one RGB frame as the next numbered PNG, ``<count>_<name>.png``."""
        import cv2

        self.count += 1
        target = self.folder / f"{self.count:05d}_{name}.png"
        if not cv2.imwrite(str(target), np.ascontiguousarray(image[..., ::-1])):
            raise OperationalError(f"cannot write {str(target)!r}")

    def close(self) -> None:
        """Nothing stays open: ``write`` writes each image whole."""


# By suffix ("" is a folder of images).
SINKS: dict[str, t.Callable[[Path, float], Sink]] = {
    ".mp4": _mp4_sink,
    ".gif": GifSink,
    ".avi": lambda target, fps: OpenCVSink(target, fps, "MJPG", "mjpeg"),
    "": lambda target, fps: ImageSink(target),
}
CLIP_SUFFIXES = tuple(suffix for suffix in SINKS if suffix)
