"""Frame decoding with decord."""

from __future__ import annotations

import typing as t

import numpy as np

from vql.errors import VideoError


class FrameReader:
    """Decodes frames of one video file by index (RGB, H x W x 3 uint8)."""

    def __init__(self, path: str, threads: int, size: tuple[int, int] | None = None):
        """``size``: (width, height) to decode at; None for the native size."""
        import decord

        self.path = path
        width, height = size or (-1, -1)
        try:
            self._reader: t.Any = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads,
                                                     width=width, height=height)
        except Exception as error:
            raise VideoError(path, f"cannot open for decoding ({error})") from error

    @property
    def fps(self) -> float:
        """The video's average frame rate."""
        return float(self._reader.get_avg_fps())

    def read(self, frame_ids: np.ndarray) -> np.ndarray:
        try:
            return t.cast(np.ndarray, self._reader.get_batch(frame_ids.tolist()).asnumpy())
        except Exception as error:
            raise VideoError(self.path, f"decoding frames {int(frame_ids[0])}.."
                                        f"{int(frame_ids[-1])} failed ({error})") from error
