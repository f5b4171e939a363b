"""The CPU twins of ``vql.kernels.arrays``: the same results from OpenCV and NumPy, which are
faster on the CPU than the generic code. Arguments are the generic kernels' without ``xp``."""

from __future__ import annotations

import numpy as np

from vql.kernels import arrays


def resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frames`` resized by OpenCV to ``width`` x ``height`` (area, or bilinear to enlarge)."""
    import cv2

    n, h, w, _ = frames.shape
    how = cv2.INTER_AREA if arrays.shrinks(h, w, height, width) else cv2.INTER_LINEAR
    out = np.empty((n, height, width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (width, height), interpolation=how)
    return out


def to_tensor(frames: np.ndarray, size: int) -> np.ndarray:
    """Resizing is per channel, so resizing the RGB frame and then reversing the channels
    equals reversing first (the order detectors' authors write) and copies a quarter as much."""
    out = np.empty((len(frames), 3, size, size), dtype=np.float32)
    for i, resized in enumerate(resize(frames, size, size)):
        # A float32 scale keeps the multiplication in float32 (a Python float would make
        # NumPy compute in float64 and convert).
        np.multiply(resized[..., ::-1].transpose(2, 0, 1), np.float32(1 / 255.0), out=out[i],
                    casting="unsafe")
    return out


def grey(frames: np.ndarray) -> np.ndarray:
    """Luma of RGB frames by OpenCV (uint8, N x H x W)."""
    import cv2

    out = np.empty(frames.shape[:3], dtype=np.uint8)
    for i, frame in enumerate(frames):
        cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY, dst=out[i])
    return out


def blur5(images: np.ndarray) -> np.ndarray:
    """5 x 5 Gaussian blur of grey images by OpenCV (sigma 0, its default border)."""
    import cv2

    out = np.empty_like(images)
    for i, image in enumerate(images):
        cv2.GaussianBlur(image, (5, 5), 0, dst=out[i])
    return out


def motion_mask(previous: np.ndarray, current: np.ndarray, threshold: int) -> np.ndarray:
    """Pixels whose grey level moved by more than ``threshold`` (bool, N x H x W)."""
    import cv2

    out = np.empty(current.shape, dtype=bool)
    for i in range(len(current)):
        out[i] = cv2.absdiff(current[i], previous[i]) > threshold
    return out


def changed_fraction(previous: np.ndarray, current: np.ndarray, threshold: int) -> np.ndarray:
    """The share of pixels whose grey level moved by more than ``threshold`` (float64, N)."""
    import cv2

    out = np.empty(len(current), dtype=np.float64)
    for i in range(len(current)):
        changed = cv2.absdiff(current[i], previous[i]) > threshold
        out[i] = np.count_nonzero(changed) / changed.size
    return out


def mean_level(frames: np.ndarray) -> np.ndarray:
    """OpenCV's SIMD sums: 20x faster than NumPy's mean here (0.27 ms against 5.4 ms for 16
    frames of 768 x 432); the sums of 8-bit values are exact in float64."""
    import cv2

    size = frames[0].size if len(frames) else 1
    sums = [sum(cv2.sumElems(np.ascontiguousarray(frame))) for frame in frames]
    return np.asarray(sums, dtype=np.float64) / (size * 255.0)
