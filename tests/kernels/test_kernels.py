"""Every array kernel's twins agree on real frames: the CPU twin (OpenCV/NumPy) against the
generic code the GPU runs, executed by NumPy here, and against CuPy where a CUDA device is."""

from __future__ import annotations

import typing as t
from pathlib import Path

import numpy as np
import pytest

import vql
from vql.kernels import KERNELS, kernel
from vql.kernels.device import (
    array_module,
    available_devices,
    cuda_status,
    status,
    to_device,
    to_host,
)


@pytest.fixture(scope="module")
def frames(road_video: Path) -> np.ndarray:
    import decord

    reader = decord.VideoReader(str(road_video))
    return t.cast(np.ndarray, reader.get_batch(list(range(90, 130, 5))).asnumpy())


def _arguments(name: str, frames: np.ndarray) -> tuple[t.Any, ...]:
    grey = kernel("blur5").twin(kernel("grey").twin(frames))
    return {
        "resize": (frames, 352, 198),
        "to_tensor": (frames, 352),
        "grey": (frames,),
        "blur5": (kernel("grey").twin(frames),),
        "motion_mask": (grey[:-1], grey[1:], 25),
        "changed_fraction": (grey[:-1], grey[1:], 25),
        "mean_level": (frames,),
    }[name]


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_the_generic_kernel_agrees_with_its_cpu_twin(name: str, frames: np.ndarray) -> None:
    found = kernel(name)
    arguments = _arguments(name, frames)
    generic = found.generic_on_cpu()(*arguments)
    assert _difference(generic, found.twin(*arguments)) <= found.tolerance


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_the_cupy_kernel_agrees_with_its_cpu_twin(name: str, frames: np.ndarray) -> None:
    if not cuda_status().available:
        pytest.skip(f"CuPy kernels need a CUDA device: {cuda_status().reason}")
    found = kernel(name)
    arguments = _arguments(name, frames)
    on_device = tuple(to_device(a, "cuda") if isinstance(a, np.ndarray) else a
                      for a in arguments)
    assert _difference(to_host(found.on("cuda")(*on_device)), found.twin(*arguments)) \
        <= found.tolerance


def test_shrinking_averages_areas_and_enlarging_interpolates() -> None:
    image = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1).repeat(3, axis=3) * 10
    half = kernel("resize").generic_on_cpu()(image, 2, 2)[0, ..., 0]
    assert half.tolist() == [[25, 45], [105, 125]]  # means of the 2 x 2 blocks (25 = 0,10,40,50)
    double = kernel("resize").generic_on_cpu()(image[:, :2, :2], 4, 4)[0, ..., 0]
    assert double[0, 0] == 0 and double[-1, -1] == 50 and double[0, 1] == 3  # 10 * 0.25


def test_the_cpu_is_always_available_and_cuda_says_why_not() -> None:
    assert available_devices()[0] == "cpu"
    cuda = cuda_status()
    assert cuda.reason
    if not cuda.available:
        with pytest.raises(vql.DeviceError, match="not available"):
            array_module("cuda")
    with pytest.raises(vql.DeviceError, match="unknown device"):
        status("tpu")
