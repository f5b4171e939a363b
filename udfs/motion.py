"""Motion UDFs. Both are stateful: they compare a frame with the frames before it, so they need
every frame of a video in presentation order, and the optimizer pushes no filter below them.
With SAMPLE, "the previous frame" is the previous sampled frame."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vql.functions.spec import udf

# A pixel "changed" when its blurred grey level moved by more than this (0..255).
CHANGE_THRESHOLD = 25
# A moving blob must cover at least this fraction of the frame to count as an object.
MIN_BLOB_FRACTION = 0.002
# Blobs larger than this fraction are a global change (lighting, camera shake), not an object.
MAX_BLOB_FRACTION = 0.5


def _grey(frame: np.ndarray) -> np.ndarray:
    import cv2

    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(grey, (5, 5), 0)


@udf(inputs=["frame"], returns=pa.float64(), stateful=True, cost_ms=1.5)
class motion:
    """Fraction of pixels that changed since the previous frame (0 for a video's first frame)."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None

    def __call__(self, frames: np.ndarray) -> list[float]:
        import cv2

        out = []
        for frame in frames:
            grey = _grey(frame)
            if self.previous is None or self.previous.shape != grey.shape:
                out.append(0.0)
            else:
                changed = cv2.absdiff(grey, self.previous) > CHANGE_THRESHOLD
                out.append(float(np.count_nonzero(changed)) / changed.size)
            self.previous = grey
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
