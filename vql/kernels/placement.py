"""Which device each frame function computes on: the device knob.

The choice is lossless up to each function's stated tolerance between devices, so it is made for
every query, with or without a target. ``VQL_DEVICE`` (``Settings.device``) sets the policy:

* ``cpu``: everything on the CPU;
* ``cuda``: every function that can run on a CUDA device runs there (an error if none is present);
* ``auto`` (the default): among the devices a function declares and this process has, the one
  with the lowest measured cost per frame (ANALYZE measures each); a device not measured yet is
  preferred when it is a GPU (they are the faster choice for these kernels until a measurement
  says otherwise), so a fresh catalog on a GPU machine uses the GPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vql.errors import DeviceError
from vql.kernels.device import DEVICES, require

POLICIES = ("auto", *DEVICES)


def choose_device(declared: Sequence[str], available: Sequence[str], policy: str,
                  measured: Mapping[str, float]) -> str:
    """The device for a function that runs on ``declared`` devices, in a process that has
    ``available`` ones, under ``policy``; ``measured``: ms per frame by device, where known."""
    if policy not in POLICIES:
        raise DeviceError(f"VQL_DEVICE={policy!r}: use one of {', '.join(POLICIES)}")
    if policy == "cpu":
        return "cpu"
    if policy != "auto":
        if policy not in declared:
            return "cpu"
        require(policy)  # says why it cannot be used
        return policy
    candidates = [d for d in declared if d in available]
    unmeasured_gpu = [d for d in candidates if d != "cpu" and d not in measured]
    if unmeasured_gpu:
        return unmeasured_gpu[0]
    known = [d for d in candidates if d in measured]
    return min(known, key=lambda d: measured[d]) if known else "cpu"
