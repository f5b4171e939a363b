"""Keeping the process's memory flat while frames stream through it.

glibc's malloc serves a large block (a decoded batch of frames, a detector's input tensor,
tens of MB) from its heap instead of a fresh mapping once a block of that size has been freed:
its mmap threshold rises on its own, up to 32 MB. Freed heap memory is not returned to the
system while a smaller block above it is live, so with batches allocated and freed from several
threads the resident memory of a detection query grew with the video's length (measured on the
room video, detect over 1 and 3 copies: 1.87 and 2.74 GB peak). Fixing the threshold (which
also stops it rising) keeps every large block a mapping of its own, returned when freed: 1.76
and 1.76 GB. The cost is a page fault per 4 KB of a new large block, well under a millisecond
per batch of frames next to the tens of milliseconds a model takes.

Done once per process, on Linux with glibc only; ``VQL_MALLOC_TUNING=0`` leaves malloc alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_MMAP_THRESHOLD = -3       # glibc's mallopt parameter
MMAP_THRESHOLD = 128 * 1024  # glibc's default, fixed so that it no longer rises

_done = False


def keep_large_blocks_mapped() -> bool:
    """Fix glibc's mmap threshold (see the module docstring); whether it was set."""
    global _done
    if _done:
        return True
    if os.environ.get("VQL_MALLOC_TUNING", "1").strip() == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False
    return _done
