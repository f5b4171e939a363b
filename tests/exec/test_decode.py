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


def test_stopping_the_read_ahead_returns_the_same_frames(road_video: Path) -> None:
    """A slow consumer's reader seeks back after each batch (decord otherwise decodes the
    rest of the video into memory meanwhile); the next batch seeks to its first frame. The
    frames are those of an uninterrupted read, batch after batch and across keyframes."""
    plain = FrameReader(str(road_video), 2)
    stopping = FrameReader(str(road_video), 2, stop_read_ahead=True)
    for start in range(0, 130, 16):  # keyframes every 60 frames
        ids = np.arange(start, start + 16)
        assert np.array_equal(stopping.read(ids), plain.read(ids))
    plain.close()
    stopping.close()


def test_small_reduced_sizes_decode(road_video: Path) -> None:
    """decord fails every batch at a few widths (48 of them: a lossy plan over a 96-pixel
    video at half size did); the decoded width steps past them."""
    from vql.exec.operators import MISREAD_WIDTHS, scaled_size

    for width in (96, 48, 144):
        size = scaled_size(width, 64, 0.5)
        assert size is not None and size[0] not in MISREAD_WIDTHS
        frames = FrameReader(str(road_video), 2, size).read(np.arange(3))
        assert frames.shape == (3, size[1], size[0], 3)


def test_in_order_reads_behind_a_model_are_decords_frames(bottle_video: Path) -> None:
    """Behind a model, frames read in order come from PyAV's pulled decoder (no read-ahead,
    no re-decoding from a keyframe per batch): the same pixels as decord's, batch after batch,
    across the bottle video's keyframe at 250 and past a jump of a few frames; a batch that
    jumps back is read by decord."""
    plain = FrameReader(str(bottle_video), 2)
    in_order = FrameReader(str(bottle_video), 2, stop_read_ahead=True)
    for ids in [np.arange(0, 16), np.arange(16, 240), np.arange(240, 260), np.arange(270, 290),
                np.arange(100, 110), np.array([5, 600])]:
        assert np.array_equal(in_order.read(ids), plain.read(ids))
    assert in_order._in_order is not None and in_order._in_order.next == 290
    plain.close()
    in_order.close()


def test_in_order_reads_of_a_damaged_file_find_the_same_damage(
        damaged_road_video: Path) -> None:
    """Where PyAV's frames stop lining up with decord's index (damage), decord reads on and
    finds the damaged frames as it does alone."""
    damaged = str(damaged_road_video)
    results = []
    for stop in (False, True):
        reader = FrameReader(damaged, 2, stop_read_ahead=stop)
        parts = [reader.read_or_skip(np.arange(s, min(s + 16, 377))) for s in range(0, 377, 16)]
        results.append((np.concatenate([f for f, _ in parts if len(f)]),
                        np.concatenate([ok for _, ok in parts])))
        reader.close()
    (plain, plain_ok), (ordered, ordered_ok) = results
    assert 0 < (~plain_ok).sum() < 377 and np.array_equal(plain_ok, ordered_ok)
    assert np.array_equal(plain, ordered)
