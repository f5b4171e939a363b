"""Progress of a running query: frames done of the frames its scans will read, the rate, and
the time left. A handler set on the connection (``Connection.set_progress_handler``) is called
at most every ``interval`` seconds; a handler that returns a true value cancels the query
(as sqlite3's progress handler does)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from vql.errors import QueryCanceledError


def time_left(seconds: float) -> str:
    """Time left as VQL writes it everywhere (the shell's progress line, ``vql run``'s,
    ``Progress.describe``): whole seconds under a minute, then minutes and seconds, then hours
    and minutes; an estimate, so it says "about".

    >>> time_left(2.6), time_left(200), time_left(7530)
    ('about 3 s left', 'about 3 min 20 s left', 'about 2 h 5 min left')
    """
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"about {whole} s left"
    if whole < 3600:
        return f"about {whole // 60} min {whole % 60} s left"
    return f"about {whole // 3600} h {whole % 3600 // 60} min left"


@dataclass(frozen=True, slots=True)
class Progress:
    """A running query's progress, as its progress handler is given it."""

    frames_done: int
    frames_total: int       # frames the query's scans cover (a LIMIT may stop it earlier)
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Frames per second so far."""
        return self.frames_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far; None before anything is done."""
        if self.frames_done <= 0 or self.rate <= 0:
            return None
        return max(self.frames_total - self.frames_done, 0) / self.rate

    @property
    def fraction(self) -> float:
        """The share of the frames done, 0..1 (0 when there are none to do)."""
        return min(self.frames_done / self.frames_total, 1.0) if self.frames_total else 0.0

    def describe(self) -> str:
        """Frames done of the total, the share, the rate and the time left, in one line."""
        eta = "" if self.eta_s is None else f", {time_left(self.eta_s)}"
        return (f"{self.frames_done}/{self.frames_total} frames ({self.fraction:.0%}), "
                f"{self.rate:.0f} frames/s{eta}")


ProgressHandler = Callable[[Progress], object]


class ProgressReporter:
    """Counts frames as the scans read them and calls the handler now and then."""

    def __init__(self, handler: ProgressHandler, interval_s: float, total: int,
                 clock: Callable[[], float] = time.perf_counter):
        self.handler = handler
        self.interval_s = interval_s
        self.total = total
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._last = self.started

    def advance(self, frames: int) -> None:
        """Count ``frames`` more read; call the handler if ``interval_s`` has passed."""
        self.done += frames
        now = self.clock()
        if now - self._last >= self.interval_s:
            self._last = now
            self.report(now)

    def report(self, now: float | None = None) -> None:
        """Call the handler now; QueryCanceledError if it returns a true value."""
        now = self.clock() if now is None else now
        if self.handler(Progress(self.done, self.total, now - self.started)):
            raise QueryCanceledError(f"the query was cancelled by its progress handler after "
                                     f"{self.done} of {self.total} frames")
