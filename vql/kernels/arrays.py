"""Array kernels written once against the NumPy API, for any array module ``xp`` that follows it.

With ``xp = cupy`` they run on a CUDA device (each is a few whole-array operations: matrix
products, element-wise arithmetic, reductions, which CuPy runs as CUDA kernels); with
``xp = numpy`` the same code runs on the CPU, which is how tests check its arithmetic on machines
without a GPU. On the CPU the engine calls the OpenCV/NumPy twins in ``vql.kernels.opencv``
instead, which are faster there.

Frames are ``N x H x W x 3`` uint8 RGB, grey images ``N x H x W`` uint8.
"""

from __future__ import annotations

import functools
import types
import typing as t

import numpy as np

Array = t.Any  # a numpy.ndarray or a cupy.ndarray

# cv2.cvtColor(RGB2GRAY) for 8-bit images: fixed-point weights of R, G and B, 14 fraction bits.
GREY_WEIGHTS = (4899, 9617, 1868)
GREY_SHIFT = 14
# cv2.GaussianBlur with a 5 x 5 window and sigma 0 uses this kernel on both axes (sum 16).
BLUR5 = (1.0, 4.0, 6.0, 4.0, 1.0)


def axis_weights(n_in: int, n_out: int, area: bool) -> np.ndarray:
    """The n_out x n_in matrix that resizes one axis: the share of each input pixel in each
    output pixel (area averaging, for shrinking), or bilinear weights with pixel centres at
    +0.5 (for enlarging), as OpenCV's INTER_AREA and INTER_LINEAR define them."""
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    if area:
        scale = n_in / n_out
        lo = np.arange(n_out)[:, None] * scale
        j = np.arange(n_in)[None, :]
        overlap = np.minimum(lo + scale, j + 1) - np.maximum(lo, j)
        weights = overlap.clip(0, None) / scale
    else:
        source = ((np.arange(n_out) + 0.5) * n_in / n_out - 0.5).clip(0, n_in - 1)
        left = np.floor(source).astype(int)
        right = np.minimum(left + 1, n_in - 1)
        fraction = source - left
        rows = np.arange(n_out)
        np.add.at(weights, (rows, left), 1 - fraction)
        np.add.at(weights, (rows, right), fraction)
    return weights.astype(np.float32)


@functools.lru_cache(maxsize=64)
def _weights_on(xp: types.ModuleType, n_in: int, n_out: int, area: bool) -> Array:
    return xp.asarray(axis_weights(n_in, n_out, area))


def shrinks(height: int, width: int, out_height: int, out_width: int) -> bool:
    """Whether a resize averages areas (both sides shrink or stay) or interpolates."""
    return out_height <= height and out_width <= width


def resize_planes(xp: types.ModuleType, frames: Array, width: int, height: int) -> Array:
    """``frames`` resized to ``width`` x ``height`` as float32 planes, N x 3 x height x width
    (not rounded): the separable resize is two matrix products per plane."""
    n, h, w, _ = frames.shape
    area = shrinks(h, w, height, width)
    rows = _weights_on(xp, h, height, area)
    cols = _weights_on(xp, w, width, area)
    planes = frames.transpose(0, 3, 1, 2).astype(xp.float32)
    return rows @ (planes @ cols.T)  # (height x h) @ (n, 3, h, width)


def _round_u8(xp: types.ModuleType, values: Array) -> Array:
    """Round half up and saturate to uint8, as OpenCV's saturate_cast does."""
    return xp.floor(values + 0.5).clip(0, 255).astype(xp.uint8)


def resize(xp: types.ModuleType, frames: Array, width: int, height: int) -> Array:
    """``frames`` resized to ``width`` x ``height`` (uint8, N x height x width x 3)."""
    return _round_u8(xp, resize_planes(xp, frames, width, height)).transpose(0, 2, 3, 1)


def to_tensor(xp: types.ModuleType, frames: Array, size: int) -> Array:
    """A detector's input: frames resized to size x size, rounded to 8 bits as a decoded image
    is, channels in BGR order, scaled to 0..1; float32, N x 3 x size x size."""
    planes = xp.floor(resize_planes(xp, frames, size, size) + 0.5).clip(0, 255)
    return xp.ascontiguousarray(planes[:, ::-1] * xp.float32(1 / 255.0))


def grey(xp: types.ModuleType, frames: Array) -> Array:
    """Luma of RGB frames (uint8 N x H x W), with OpenCV's fixed-point weights and rounding."""
    r, g, b = (frames[..., i].astype(xp.int32) for i in range(3))
    wr, wg, wb = GREY_WEIGHTS
    luma = (r * wr + g * wg + b * wb + (1 << (GREY_SHIFT - 1))) >> GREY_SHIFT
    return luma.astype(xp.uint8)


def blur5(xp: types.ModuleType, images: Array) -> Array:
    """5 x 5 Gaussian blur (OpenCV's default kernel for sigma 0) of grey images; borders
    reflect without repeating the edge pixel, OpenCV's default border."""
    n, h, w = images.shape
    padded = xp.pad(images.astype(xp.float32), ((0, 0), (2, 2), (2, 2)), mode="reflect")
    across = sum(k * padded[:, :, i:i + w] for i, k in enumerate(BLUR5))
    down = sum(k * across[:, i:i + h, :] for i, k in enumerate(BLUR5))
    return _round_u8(xp, down / 256.0)


def motion_mask(xp: types.ModuleType, previous: Array, current: Array,
                threshold: int) -> Array:
    """Pixels whose grey level moved by more than ``threshold`` (bool, N x H x W) between
    ``previous[i]`` and ``current[i]``."""
    difference = xp.abs(current.astype(xp.int16) - previous.astype(xp.int16))
    return difference > threshold


def changed_fraction(xp: types.ModuleType, previous: Array, current: Array,
                     threshold: int) -> Array:
    """The share of pixels in ``motion_mask`` (float64, N)."""
    mask = motion_mask(xp, previous, current, threshold)
    return mask.reshape(len(mask), -1).mean(axis=1, dtype=xp.float64)


def mean_level(xp: types.ModuleType, frames: Array) -> Array:
    """Mean pixel value of each frame, 0 (black) to 1 (white) (float64, N)."""
    return frames.reshape(len(frames), -1).mean(axis=1, dtype=xp.float64) / 255.0
