"""A folder a recorder writes segments into (``CREATE VIDEO TABLE t FROM 'dir/*.mp4' WATCH``).

Network video recorders and many cameras store video as a file per few minutes. A segment is
*finished* when it opens as a video and its size and modification time did not change between
two looks at least ``settle_s`` apart: an MP4 being written has no index yet (it does not open),
and a stream format (MPEG-TS) that opens while it grows is still growing. Finished segments are
handed over in time order (modification time, then name), each once.
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass, field

from vql.errors import VideoError
from vql.video.probe import VideoProbe, file_fingerprint, probe

SETTLE_S = 1.0  # how long a segment's size must hold before it counts as finished


def matches(source: str) -> list[str]:
    """The files the glob ``source`` names now, absolute (none is no error: a recorder may not
    have started)."""
    pattern = os.path.expanduser(source)
    return [os.path.abspath(p) for p in glob.glob(pattern, recursive=True) if os.path.isfile(p)]


def finished_now(source: str) -> list[VideoProbe]:
    """The segments of ``source`` that open as videos now, in time order (when the table is
    made: a segment still being written joins later)."""
    found = []
    for path in matches(source):
        try:
            found.append(probe(path))
        except (VideoError, OSError):
            continue
    return sorted(found, key=lambda p: (p.mtime, p.path))


@dataclass
class SegmentWatcher:
    """Finds the segments of ``source`` finished since the last look, skipping ``known`` ones."""

    source: str
    known: set[str] = field(default_factory=set)
    settle_s: float = SETTLE_S
    _seen: dict[str, tuple[tuple[int, float], float]] = field(default_factory=dict)

    def poll(self) -> list[VideoProbe]:
        """The segments that are finished now and were not handed over before, in time order."""
        now = time.monotonic()
        ready = []
        for path in matches(self.source):
            if path in self.known:
                continue
            try:
                fingerprint = file_fingerprint(path)
            except OSError:
                continue  # gone again
            previous = self._seen.get(path)
            if previous is None or previous[0] != fingerprint:
                self._seen[path] = (fingerprint, now)
                continue
            if now - previous[1] < self.settle_s:
                continue
            try:
                found = probe(path)
            except VideoError:
                continue  # not a video yet (an MP4 without its index): look again later
            self.known.add(path)
            self._seen.pop(path, None)
            ready.append(found)
        return sorted(ready, key=lambda p: (p.mtime, p.path))
