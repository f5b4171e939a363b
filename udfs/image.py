"""Cheap image statistics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vql.functions.spec import udf


@udf(inputs=["frame"], returns=pa.float64(), cost_ms=0.2)
def brightness(frames: np.ndarray) -> np.ndarray:
    """Mean pixel value of the frame, 0 (black) to 1 (white)."""
    return frames.reshape(len(frames), -1).mean(axis=1) / 255.0
