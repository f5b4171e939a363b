"""Meeting a latency target while the query runs, as Llama does.

The pipeline is cut into invocations: spans of ``invocation_s`` seconds of video, per video.
Before each one the controller divides the time left among the video left, and picks for the
invocation the most accurate sampling rate whose estimated time fits its share and is *safe*:
after it, the rest of the video could still finish in time at the fastest rate. Estimates are
the cost model's, corrected by what the query has really spent on the video processed so far
(``processed``: the operator says how far its processing has got, which lags its decisions),
so a machine that runs slower than its profiles slows the plan down early rather than late.
The first processed batch is not extrapolated (it pays once for a model's first call, a
decoder's first seek): the correction compares the time since it with the work since it.

Every decision is a pure function of numbers and a clock; tests drive it with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# The correction factor (measured / estimated time) is kept within these bounds, so that one
# odd invocation (a model loading, a cold cache) cannot swing the plan to an extreme.
MIN_CORRECTION, MAX_CORRECTION = 0.5, 8.0
# The share of the budget kept back for what follows the pipeline (DuckDB's own work, output).
RESERVE = 0.1


@dataclass(frozen=True, slots=True)
class RateOption:
    """One sampling rate: its estimated cost per second of video and its estimated accuracy."""

    fps: float
    seconds_per_video_second: float
    accuracy: float | None


@dataclass
class Decision:
    """One invocation's choice: its rate, seconds of video, estimated time and accuracy."""

    fps: float
    video_seconds: float
    estimated_s: float
    accuracy: float | None
    start: float = 0.0  # seconds of video done when it was taken


@dataclass
class LatencyController:
    """Picks a sampling rate per invocation; ``rate`` is called at each invocation's start."""

    options: Sequence[RateOption]
    total_video_s: float
    budget_s: float
    invocation_s: float
    clock: Callable[[], float] = time.perf_counter
    decisions: list[Decision] = field(default_factory=list)
    started: float | None = None
    # (seconds of video processed, clock, estimated seconds of that work) at the first and the
    # latest processed batch
    first: tuple[float, float, float] | None = None
    latest: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("a latency controller needs at least one rate")
        # Fastest first; among equal costs the most accurate.
        self.options = sorted(self.options, key=lambda o: (o.seconds_per_video_second,
                                                           -(o.accuracy or 0.0), -o.fps))

    def start(self) -> None:
        """Start the clock that the budget is counted from."""
        self.started = self.clock()

    @property
    def elapsed(self) -> float:
        """Seconds since ``start`` (the clock starts now if it has not)."""
        if self.started is None:
            self.start()
        assert self.started is not None
        return self.clock() - self.started

    def estimated_until(self, video_s: float) -> float:
        """The estimated time of the decided work up to ``video_s`` seconds of video."""
        total = 0.0
        for d in self.decisions:
            done = min(max(video_s - d.start, 0.0), d.video_seconds)
            if d.video_seconds > 0:
                total += d.estimated_s * done / d.video_seconds
        return total

    def processed(self, video_s: float) -> None:
        """The pipeline has processed the frames up to ``video_s`` seconds of video."""
        mark = (video_s, self.clock(), self.estimated_until(video_s))
        if self.first is None:
            if self.started is None:
                self.start()
            self.first = mark
        self.latest = mark

    def correction(self) -> float:
        """Measured over estimated time of the work processed since the first batch."""
        if self.first is None or self.latest is None:
            return 1.0
        estimated = self.latest[2] - self.first[2]
        measured = self.latest[1] - self.first[1]
        if estimated <= 1e-9:
            return 1.0
        return min(max(measured / estimated, MIN_CORRECTION), MAX_CORRECTION)

    def rate(self, done_video_s: float) -> float:
        """The rate for the invocation that starts after ``done_video_s`` seconds of video."""
        left_video = max(self.total_video_s - done_video_s, 1e-9)
        chunk = min(self.invocation_s, left_video)
        left_time = self.budget_s * (1 - RESERVE) - self.elapsed
        share = left_time * chunk / left_video
        factor = self.correction()
        fastest = self.options[0]
        rest_at_fastest = fastest.seconds_per_video_second * (left_video - chunk) * factor
        chosen = fastest
        # Most accurate first (unknown accuracy: more frames are assumed more accurate).
        for option in sorted(self.options, key=lambda o: (-(o.accuracy if o.accuracy is not None
                                                           else 0.0), -o.fps)):
            cost = option.seconds_per_video_second * chunk * factor
            if cost <= share and cost + rest_at_fastest <= left_time:
                chosen = option
                break
        self.decisions.append(Decision(chosen.fps, chunk, chosen.seconds_per_video_second * chunk,
                                       chosen.accuracy, done_video_s))
        return chosen.fps

    def accuracy(self) -> float | None:
        """The estimated accuracy of what ran so far: each invocation's, weighted by video."""
        if not self.decisions or any(d.accuracy is None for d in self.decisions):
            return None
        total = sum(d.video_seconds for d in self.decisions)
        return sum(t_acc * d.video_seconds for d in self.decisions
                   if (t_acc := d.accuracy) is not None) / total

    def summary(self) -> str:
        """The invocations run, the rates used and the correction factor, in one line."""
        rates = sorted({d.fps for d in self.decisions})
        return (f"{len(self.decisions)} invocations, rates used: "
                f"{', '.join(f'{r:g}' for r in rates)} FPS; correction "
                f"{self.correction():.2f}x")
