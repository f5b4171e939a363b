"""Frames of one file in presentation order, decoded only when asked (PyAV).

Behind a model, decord's reader must be stopped from decoding the rest of the video into memory
after each batch (dmlc/decord#157, #208), and stopping it (a seek back) makes the next batch
decode again from the keyframe before it: a GOP more per batch. PyAV's decoder is pulled
frame by frame, so it holds a few frames whatever the consumer's speed and never decodes one
twice. Measured behind a consumer of 8 ms a frame (FastestDet's speed here), batches of 16:
the bottle video (one keyframe in 250 frames) 1.5 s of decoding beyond the consumer against
decord's 5.3 s with its seeks (0.4 s without them, holding 0.8 GB); the room video 2.2 s
against 3.0 s. PyAV is FFmpeg, as decord is: its RGB frames are the same, byte for byte, on the
shared videos.

A frame whose presentation time is not the one decord's index gives for its number (a frame
the decoder dropped, a damaged file) ends the sequence: the caller reads on with decord, which
finds and skips damaged frames.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import numpy as np

# Frames decoded and dropped to reach a batch that starts further on (a pushed-down time range
# starting within the first GOP or so); further, the caller seeks with decord.
MAX_SKIP = 300


def reaches(ids: list[int], start: int) -> bool:
    """Whether a decoder that gives frame ``start`` next can read ``ids``: consecutive, and
    starting at most MAX_SKIP frames on."""
    return 0 <= ids[0] - start <= MAX_SKIP and ids[-1] - ids[0] == len(ids) - 1


class SequentialDecoder:
    """Decodes one file's frames in order from the start; ``read`` takes the next ones."""

    def __init__(self, path: str, tolerance: float) -> None:
        """``tolerance``: how far (seconds) a frame's presentation time may be from the time
        the caller expects for its number (see ``read``)."""
        import av

        self._container = av.open(path)
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # FFmpeg's frame and slice threads
        self._frames: Iterator[t.Any] = self._container.decode(stream)
        self.tolerance = tolerance
        self.next = 0  # the number of the frame the decoder gives next

    def read(self, ids: list[int], times: np.ndarray) -> np.ndarray | None:
        """The frames ``ids`` (consecutive, reachable: see ``reaches``) as N x H x W x 3 RGB,
        or None when a frame's presentation time is more than ``tolerance`` seconds from
        ``times`` (its expected time), the file ends early or a frame fails to decode: then
        this decoder is of no further use."""
        tolerance = self.tolerance
        import av

        try:
            while self.next < ids[0]:
                if next(self._frames, None) is None:
                    return None
                self.next += 1
            out = []
            for expected in times:
                frame = next(self._frames, None)
                if frame is None or frame.time is None or abs(frame.time - expected) > tolerance:
                    return None
                out.append(frame.to_ndarray(format="rgb24"))
                self.next += 1
        except av.error.FFmpegError:
            return None
        return np.stack(out)

    def close(self) -> None:
        """Closes the file."""
        self._container.close()
