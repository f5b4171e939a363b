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


# moving_objects works on frames resized to this width, so that its sizes and distances mean the
# same at every decode resolution (the optimizer's resolution knob) and it costs little.
WORK_WIDTH = 384
# Foreground fragments closer than this (pixels at WORK_WIDTH) are parts of one object: a car
# seen from above splits into its bright body, dark windows and shadow. Measured against the
# labelled road video (tests/labels/road_vehicles.csv): every gap from 10 to 25 px counts the
# cars right on >= 99 % of frames; the two cars that pass each other there are 26 to 34 px
# apart. Cars closer than the gap count as one: motion cannot tell them apart (YOLO can).
GROUP_GAP = 20
CLOSE_SIZE = 9      # closing fills the holes of a fragment (pixels at WORK_WIDTH)
# An object covers at least this fraction of the frame (a half-visible car at the far edge of
# the road video covers about 2 %; 1 % to 2 % all measured equal there).
MIN_OBJECT_FRACTION = 0.015


class MovingBlobs:
    """Moving objects as boxes, frame after frame of one video: MOG2 background subtraction
    (shadows ignored), fragments closer than GROUP_GAP merged into one object, objects smaller
    than MIN_OBJECT_FRACTION of the frame or larger than MAX_BLOB_FRACTION (a change of light,
    not an object) left out. Boxes are (x1, y1, x2, y2) in the frame's pixels."""

    def __init__(self) -> None:
        import cv2

        self.subtractor = cv2.createBackgroundSubtractorMOG2(
            history=300, varThreshold=32, detectShadows=True)
        self.open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (CLOSE_SIZE, CLOSE_SIZE))

    def __call__(self, frame: np.ndarray) -> list[tuple[float, float, float, float]]:
        """The moving objects' boxes in ``frame`` (the next frame of the video, RGB)."""
        import cv2

        height, width = frame.shape[:2]
        size = (WORK_WIDTH, max(1, round(height * WORK_WIDTH / width)))
        image = cv2.resize(np.ascontiguousarray(frame[..., ::-1]), size,
                           interpolation=cv2.INTER_AREA if width > WORK_WIDTH else cv2.INTER_LINEAR)
        mask = self.subtractor.apply(image)
        mask = np.where(mask == 255, 255, 0).astype(np.uint8)  # 127 marks shadows
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.close)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        groups = grouped([(*cv2.boundingRect(c), cv2.contourArea(c)) for c in contours],
                         GROUP_GAP)
        area, scale = float(size[0] * size[1]), width / size[0]
        return [(x1 * scale, y1 * scale, x2 * scale, y2 * scale)
                for x1, y1, x2, y2, covered in groups
                if MIN_OBJECT_FRACTION <= covered / area <= MAX_BLOB_FRACTION]


@udf(inputs=["frame"], returns=pa.int64(), stateful=True, cost_ms=2.0)
class moving_objects:
    """Number of moving objects (``MovingBlobs``: background subtraction, nearby fragments
    merged, specks and changes of light left out). Right on every frame of the labelled road
    video (tests/udfs/test_ground_truth.py)."""

    def __init__(self) -> None:
        self.blobs = MovingBlobs()

    def __call__(self, frames: np.ndarray) -> list[int]:
        """How many moving objects each frame shows."""
        return [len(self.blobs(frame)) for frame in frames]


def grouped(boxes: list[tuple[float, ...]], gap: int) -> list[list[float]]:
    """Groups of boxes (x, y, width, height, area) chained by gaps of at most ``gap`` pixels
    between their bounding boxes, each as [x1, y1, x2, y2, summed area]."""
    groups = [[x, y, x + w, y + h, a] for x, y, w, h, a in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                if a[0] - gap <= b[2] and b[0] - gap <= a[2] and a[1] - gap <= b[3] \
                        and b[1] - gap <= a[3]:
                    groups[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]),
                                 max(a[3], b[3]), a[4] + b[4]]
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups
