"""Array kernels for frame functions, on the CPU or a CUDA device.

Each kernel is written once against the NumPy API (``vql.kernels.arrays``) and runs on a CUDA
device through CuPy; on the CPU its twin (``vql.kernels.opencv``: OpenCV or NumPy) runs instead.
Twins agree within the kernel's ``tolerance`` (tested on real frames: the generic code under
NumPy everywhere, under CuPy where a CUDA device is present).

| kernel | what it computes | tolerance |
|---|---|---|
| resize(frames, width, height) | area average when shrinking, bilinear when enlarging | 1 level |
| to_tensor(frames, size) | a detector's input: resized, BGR, 0..1, N x 3 x size x size | 1/255 |
| grey(frames) | luma with OpenCV's weights | exact |
| blur5(images) | 5 x 5 Gaussian blur | 1 level |
| motion_mask(previous, current, threshold) | pixels whose grey level moved more than threshold | exact |
| changed_fraction(previous, current, threshold) | share of pixels in the motion mask | exact |
| mean_level(frames) | mean pixel value, 0..1 | 1e-9 |

Use ``kernel(name).on(device)``: a function of arrays that live on ``device``
(``vql.kernels.device.to_device`` puts them there).
"""

from __future__ import annotations

import functools
import typing as t
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vql.errors import InternalError
from vql.kernels import arrays, opencv
from vql.kernels.device import array_module


@dataclass(frozen=True, slots=True)
class Kernel:
    """One kernel: generic code for any array module, its CPU twin, and how far they may differ."""

    name: str
    generic: Callable[..., t.Any]  # generic(xp, *arguments): any NumPy-compatible module
    twin: Callable[..., t.Any]     # the CPU implementation: twin(*arguments)
    tolerance: float               # the largest difference allowed between the two

    def on(self, device: str) -> Callable[..., t.Any]:
        """The implementation for arrays on ``device``."""
        if device == "cpu":
            return self.twin
        return functools.partial(self.generic, array_module(device))

    def generic_on_cpu(self) -> Callable[..., t.Any]:
        """The generic code run by NumPy: the arithmetic the device runs, on the CPU."""
        return functools.partial(self.generic, np)


KERNELS: dict[str, Kernel] = {
    k.name: k for k in (
        Kernel("resize", arrays.resize, opencv.resize, 1),
        Kernel("to_tensor", arrays.to_tensor, opencv.to_tensor, 1 / 255 + 1e-6),
        Kernel("grey", arrays.grey, opencv.grey, 0),
        Kernel("blur5", arrays.blur5, opencv.blur5, 1),
        Kernel("motion_mask", arrays.motion_mask, opencv.motion_mask, 0),
        Kernel("changed_fraction", arrays.changed_fraction, opencv.changed_fraction, 0),
        Kernel("mean_level", arrays.mean_level, opencv.mean_level, 1e-9),
    )
}


def kernel(name: str) -> Kernel:
    """The kernel called ``name``; InternalError if there is none."""
    found = KERNELS.get(name)
    if found is None:
        raise InternalError(f"no kernel {name!r}; kernels: {', '.join(sorted(KERNELS))}")
    return found
