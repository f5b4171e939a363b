"""Cheap image statistics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vql.functions.spec import udf
from vql.kernels import kernel
from vql.kernels.device import to_device, to_host


@udf(inputs=["frame"], returns=pa.float64(), cost_ms=0.2, devices=("cpu", "cuda"))
def brightness(frames: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Mean pixel value of the frame, 0 (black) to 1 (white)."""
    return to_host(kernel("mean_level").on(device)(to_device(frames, device)))
