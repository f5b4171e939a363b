"""Keeping the process's memory flat while frames stream through it.

glibc's malloc serves a large block (a decoded batch of frames, a detector's input tensor,
tens of MB) from its heap instead of a fresh mapping once a block of that size has been freed:
its mmap threshold rises on its own, up to 32 MB. Freed heap memory is not returned to the
system while a smaller block above it is live, so with batches allocated and freed from several
threads the resident memory of a detection query grew with the video's length (measured on the
room video, detect over 1 and 3 copies: 1.87 and 2.74 GB peak). A threshold fixed at 128 KiB
keeps every large block a mapping of its own, returned when freed: 1.76 and 1.76 GB.

Mapping each block anew costs page faults: a decode-bound query (avg(brightness) over the room
video) took 1.54-1.60 s against 1.11 s. So the low threshold is set only while a pipeline runs
a function that costs far more than decoding (``model_heavy``), where it costs nothing
measurable; other pipelines run with it at 32 MB, where glibc's own adjustment ends up anyway
(setting it once stops the adjustment for good). Linux with glibc only; ``VQL_MALLOC_TUNING=0``
leaves malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_MMAP_THRESHOLD = -3            # glibc's mallopt parameter
LOW = 128 * 1024                 # every large block its own mapping: flat memory
HIGH = 32 * 1024 * 1024          # glibc's own upper bound: blocks of frames reuse the heap
HEAVY_MS = 5.0                   # a function this costly per frame makes a pipeline model-heavy

_libc: ctypes.CDLL | None = None
_current: int | None = None


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if os.environ.get("VQL_MALLOC_TUNING", "1").strip() == "0":
        return None
    if _libc is None and platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else None
        except OSError:
            _libc = None
    return _libc


def for_pipelines(model_heavy: bool) -> bool:
    """Set the mmap threshold for the pipelines about to run (see the module docstring);
    whether it was set."""
    global _current
    libc = _glibc()
    if libc is None:
        return False
    wanted = LOW if model_heavy else HIGH
    if wanted != _current and libc.mallopt(M_MMAP_THRESHOLD, wanted):
        _current = wanted
    return _current == wanted
