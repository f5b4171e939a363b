"""Motion UDFs. Both are stateful: they compare a frame with the frames before it, so they need
every frame of a video in presentation order, and the optimizer pushes no filter below them.
With SAMPLE, "the previous frame" is the previous sampled frame."""

from __future__ import annotations

import typing as t

import numpy as np
import pyarrow as pa

from vql.functions.spec import udf
from vql.kernels import kernel
from vql.kernels.device import to_device, to_host

# A pixel "changed" when its blurred grey level moved by more than this (0..255).
CHANGE_THRESHOLD = 25
# A moving blob must cover at least this fraction of the frame to count as an object.
MIN_BLOB_FRACTION = 0.002
# Blobs larger than this fraction are a global change (lighting, camera shake), not an object.
MAX_BLOB_FRACTION = 0.5


@udf(inputs=["frame"], returns=pa.float64(), stateful=True, cost_ms=1.5,
     devices=("cpu", "cuda"))
class motion:
    """Fraction of pixels that changed since the previous frame (0 for a video's first frame).
    The same on the CPU and on a CUDA device (the kernels it uses agree exactly)."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.grey, self.blur5, self.changed = (
            kernel(name).on(device) for name in ("grey", "blur5", "changed_fraction"))
        self.previous: t.Any = None  # the last frame's blurred grey image, on the device

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        greys = self.blur5(self.grey(to_device(frames, self.device)))
        out = np.zeros(len(frames))  # a video's first frame has nothing to compare with
        if self.previous is not None and self.previous.shape == greys.shape[1:]:
            out[0] = to_host(self.changed(self.previous[None], greys[:1], CHANGE_THRESHOLD))[0]
        if len(greys) > 1:  # each frame against the one before it, in one call
            out[1:] = to_host(self.changed(greys[:-1], greys[1:], CHANGE_THRESHOLD))
        self.previous = greys[-1]
        return out


@udf(inputs=["frame"], returns=pa.int64(), stateful=True, cost_ms=4.0)
class moving_objects:
    """Number of moving blobs, from MOG2 background subtraction (shadows ignored)."""

    def __init__(self) -> None:
        import cv2

        self.subtractor = cv2.createBackgroundSubtractorMOG2(
            history=300, varThreshold=32, detectShadows=True)
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def __call__(self, frames: np.ndarray) -> list[int]:
        return [self._count(frame) for frame in frames]

    def _count(self, frame: np.ndarray) -> int:
        import cv2

        mask = self.subtractor.apply(np.ascontiguousarray(frame[..., ::-1]))
        mask = np.where(mask == 255, 255, 0).astype(np.uint8)  # 127 marks shadows
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.kernel, iterations=2)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        area = mask.shape[0] * mask.shape[1]
        sizes = stats[1:count, cv2.CC_STAT_AREA] / area  # label 0 is the background
        return int(np.count_nonzero((sizes >= MIN_BLOB_FRACTION) & (sizes <= MAX_BLOB_FRACTION)))
