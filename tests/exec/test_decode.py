"""Decoding: frames read by seeking (sparse, across keyframes) have the same pixels as the
same frames read by scanning every frame in order, at native and reduced resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vql.exec.decode import FrameReader


@pytest.mark.parametrize("size", [None, (384, 216)])
def test_seeking_and_scanning_give_the_same_pixels(road_video: Path,
                                                   size: tuple[int, int] | None) -> None:
    # car-detection.mp4 has a keyframe every 60 frames: these sit before, on and after some.
    wanted = np.array([3, 59, 60, 61, 130, 250, 376])
    sought = FrameReader(str(road_video), 2, size).read(wanted)
    scanner = FrameReader(str(road_video), 2, size)
    scanned = np.concatenate([scanner.read(np.arange(start, min(start + 64, 377)))
                              for start in range(0, 377, 64)])
    assert sought.shape[0] == len(wanted) and scanned.shape[0] == 377
    assert np.array_equal(sought, scanned[wanted])
    backwards = FrameReader(str(road_video), 2, size).read(wanted[::-1].copy())
    assert np.array_equal(backwards, scanned[wanted[::-1]])
