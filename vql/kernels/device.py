"""Which devices this process can compute on, and moving arrays to and from them.

``cpu`` is always there. ``cuda`` is there when CuPy (the ``gpu`` extra: ``pip install
'vql[gpu]'``) is installed and sees a CUDA device; the reason it is not is kept, so that EXPLAIN,
errors and skipped tests can say why.
"""

from __future__ import annotations

import functools
import types
import typing as t
from dataclasses import dataclass

import numpy as np

from vql.errors import DeviceError

DEVICES = ("cpu", "cuda")


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """Whether a device can be computed on here, and what it is or why not."""

    device: str
    available: bool
    reason: str  # what it is (available) or why it cannot be used


@functools.cache
def cuda_status() -> DeviceStatus:
    """Whether CuPy can compute on a CUDA device in this process (checked once)."""
    try:
        import cupy
    except ImportError:
        return DeviceStatus("cuda", False, "CuPy is not installed (pip install 'vql[gpu]')")
    except Exception as error:  # a broken CUDA installation fails at import
        return DeviceStatus("cuda", False, f"CuPy cannot be imported: {error}")
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as error:  # CUDARuntimeError without a driver or a device
        return DeviceStatus("cuda", False, f"no CUDA device ({type(error).__name__}: {error})")
    if count == 0:
        return DeviceStatus("cuda", False, "no CUDA device")
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    return DeviceStatus("cuda", True, f"{count} CUDA device(s), the first: {name}")


def status(device: str) -> DeviceStatus:
    """Whether ``device`` can be used in this process, and why; DeviceError for an unknown name."""
    if device == "cpu":
        return DeviceStatus("cpu", True, "the CPU")
    if device == "cuda":
        return cuda_status()
    raise DeviceError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")


def available_devices() -> tuple[str, ...]:
    """The devices this process can compute on, ``cpu`` first."""
    return tuple(d for d in DEVICES if status(d).available)


def require(device: str) -> None:
    """Raise DeviceError, saying why, when ``device`` cannot be used here."""
    found = status(device)
    if not found.available:
        raise DeviceError(f"device {device!r} is not available: {found.reason}")


def array_module(device: str) -> types.ModuleType:
    """NumPy for ``cpu``, CuPy for ``cuda``: the module generic kernels compute with."""
    if device == "cpu":
        return np
    require(device)
    import cupy

    return t.cast(types.ModuleType, cupy)


def to_device(array: np.ndarray, device: str) -> t.Any:
    """``array`` on ``device`` (no copy for ``cpu``)."""
    return array if device == "cpu" else array_module(device).asarray(array)


def to_host(array: t.Any) -> np.ndarray:
    """A NumPy array with the values of ``array``, wherever it lives."""
    return array if isinstance(array, np.ndarray) else t.cast(np.ndarray, array.get())
