"""A user-defined function in its own file, loaded with

    CREATE FUNCTION redness FROM 'examples/redness.py';

(see examples/custom_udf.sql). ``frames`` is a batch: N x H x W x 3, uint8, RGB."""

import numpy as np
import pyarrow as pa

import vql


@vql.udf(inputs=["frame", "margin:int=30"], returns=pa.float64(), cost_ms=0.5)
def redness(frames: np.ndarray, margin: int) -> np.ndarray:
    """Share of pixels whose red channel exceeds both others by more than ``margin``."""
    pixels = frames.astype(np.int16)
    red = (pixels[..., 0] - np.maximum(pixels[..., 1], pixels[..., 2])) > margin
    return red.reshape(len(frames), -1).mean(axis=1)
