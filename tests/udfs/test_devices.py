"""Frame functions on each device they declare; the device argument of user functions."""

from __future__ import annotations

import typing as t
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from vql.udfs.motion import CHANGE_THRESHOLD, motion

import vql
from vql.functions.spec import FrameFunction
from vql.kernels.device import cuda_status


def _frames(video: Path, count: int) -> np.ndarray:
    import decord

    return t.cast(np.ndarray, decord.VideoReader(str(video)).get_batch(
        list(range(count))).asnumpy())


def test_motion_in_batches_equals_a_frame_by_frame_opencv_loop(room_video: Path) -> None:
    import cv2

    frames = _frames(room_video, 45)
    expected, previous = [], None
    for frame in frames:  # the definition, written the way a user would write it
        grey = cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (5, 5), 0)
        expected.append(0.0 if previous is None else
                        np.count_nonzero(cv2.absdiff(grey, previous) > CHANGE_THRESHOLD)
                        / grey.size)
        previous = grey
    evaluator = motion.__vql_function__.spec.open(())
    got = np.concatenate([evaluator(frames[i:i + 16]) for i in range(0, len(frames), 16)])
    assert got.tolist() == expected


@pytest.mark.parametrize("name", ["brightness", "motion", "detect"])
def test_builtin_functions_agree_on_cpu_and_cuda(name: str, room_video: Path,
                                                 fastestdet_dir: Path) -> None:
    if not cuda_status().available:
        pytest.skip(f"needs a CUDA device: {cuda_status().reason}")
    from vql.udfs import builtin_functions

    function = next(f for f in builtin_functions() if f.name == name)
    assert isinstance(function, FrameFunction)
    constants = tuple(p.default for p in function.params[1:])
    frames = _frames(room_video, 32)[::2]
    cpu = function.open(constants, "cpu")(frames)
    gpu = function.open(constants, "cuda")(frames)
    if name == "detect":  # within 1/255 of input: the same objects, boxes within 2 px
        for a, b in zip(cpu, gpu, strict=True):
            assert [d["label"] for d in a] == [d["label"] for d in b]
            for x, y in zip(a, b, strict=True):
                assert all(abs(x[k] - y[k]) <= 2 for k in ("x1", "y1", "x2", "y2"))
    else:
        assert np.allclose(np.asarray(cpu), np.asarray(gpu), atol=1e-9)


def test_a_function_refuses_a_device_it_does_not_declare() -> None:
    from vql.udfs.motion import moving_objects

    with pytest.raises(vql.DeviceError, match="moving_objects cannot run on 'cuda'"):
        moving_objects.__vql_function__.spec.open((), "cuda")


def test_a_user_function_that_declares_cuda_receives_the_device() -> None:
    seen: list[str] = []

    @vql.udf(inputs=["frame"], returns=pa.float64(), devices=("cpu", "cuda"))
    def level(frames: np.ndarray, device: str) -> list[float]:
        seen.append(device)
        return [0.0] * len(frames)

    level.__vql_function__.spec.open(())(np.zeros((2, 4, 4, 3), dtype=np.uint8))
    assert seen == ["cpu"]
    with pytest.raises(ValueError, match="devices must include 'cpu'"):
        vql.udf(inputs=["frame"], returns=pa.float64(), devices=("gpu",))
