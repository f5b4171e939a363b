"""Meeting a latency target per frame on a live stream, and following what the stream shows.

``WITH LATENCY 500ms`` on a live query means: each row comes out within 500 ms of its frame's
arrival. A live stream never ends, so Llama's per-invocation budget becomes a budget per
frame, and the knobs are re-picked after every batch from what the pipeline measures:

* **Options** are a sampling rate (every frame, or ``RATES`` frames per second: the others are
  filled from the last processed frame) and a decode resolution (``SCALES``).
* **Cost**: seconds per processed frame at each resolution, measured on the pipeline's own
  calls (a moving average), so that other cameras sharing the machine make every frame look
  dearer. An option's *load* is the share of a second its frames take: rate x cost.
* **Keeping up** (additive increase, multiplicative decrease, as congestion control does): an
  option is affordable when its load is within ``capacity`` (at most ``UTILISATION``), within
  what the other cameras of the process leave of its cores (``SharedMachine``: each camera
  takes what the others' current options leave, so that cameras that all start at their
  reference settings do not all go to the edge at once), and one frame fits the budget. A row later than the budget (less ``RESERVE``) cuts the capacity to
  ``DECREASE`` of the load that caused it; ``CALM_S`` of rows well inside the budget raises it
  again. A frame that already waited longer than the budget is not processed (it is filled
  and counted as late): lag cannot grow.
* **Accuracy follows the content** (Chameleon, OneAdapt): every ``REFRESH_S`` seconds of
  stream, or sooner when the scene's motion departs from the last profile's by a factor of
  ``DRIFT`` (the mean grey-level change between consecutive thumbnails, measured on every
  frame whatever the knobs: a detector at low resolution may be blind to what arrived), a clip
  of ``CLIP_S`` seconds is run at the reference settings (every frame, native resolution) and
  at each other resolution, in the background of the stream (at most ``SHARE`` of the
  pipeline's time); every option is scored on it against the reference, by the per-frame
  metric of ``vql.accuracy`` (``clip_scores``). Until the first profile, more frames and
  pixels are taken to be more accurate.
* **Choice**: among the affordable options, with ``WITH ACCURACY a`` the cheapest scoring at
  least ``a``; without, the cheapest within ``TIE`` of the best affordable score, so that an
  empty scene is watched cheaply and a busy one closely. When nothing is affordable, the
  cheapest.

Every decision is a pure function of numbers and a clock; tests drive it with a fake clock.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vql.accuracy.metrics import column_parts, ratio

RATES: tuple[float, ...] = (5.0, 2.0, 1.0, 0.5)  # frames per second tried below every frame
SCALES: tuple[float, ...] = (1.0, 0.5)           # decode resolutions tried
CLIP_S = 2.0            # seconds of stream run at the reference settings per refresh
CLIP_FRAMES = 40        # ... at most this many frames
REFRESH_S = 10.0        # seconds of stream between refreshes
MIN_REFRESH_GAP_S = 2.0  # ... and at least this many, whatever the content does
SHARE = 0.25            # the most of the pipeline's time that refreshes may take
UTILISATION = 0.8       # the most of a second an option's frames may take
RESERVE = 0.2           # the share of the budget kept for what follows (SQL, output)
DECREASE = 0.6          # a late row cuts the capacity to this share of the load
CALM_S = 2.0            # seconds of rows within half the budget before the capacity grows
INCREASE = 0.1          # ... by this much of UTILISATION
MIN_CAPACITY = 0.01
TIE = 0.02              # scores this close count as equal (a clip is a small sample)
DRIFT = 2.5             # motion this many times the profile's (or less) asks for a refresh
MOTION_FLOOR = 0.003    # ... both plus this (measured: 0.001 on an empty road, 0.019 with
                        # cars, 0.003 with a person standing in the room, 0.014 walking)
MOTION_WINDOW_S = 1.0   # ... over the last second of frames
WINDOWS_KEPT = 1024     # seconds of motion kept, one per frame, for profiles that come late
EWMA = 0.3              # weight of the newest cost measurement


@dataclass(frozen=True, slots=True)
class LiveOption:
    """A sampling rate (None: every frame) and a decode resolution."""

    fps: float | None = None
    scale: float = 1.0

    def processed_fps(self, stream_fps: float) -> float:
        """Frames per second it processes of a stream at ``stream_fps``."""
        return stream_fps if self.fps is None else min(self.fps, stream_fps)

    @property
    def is_reference(self) -> bool:
        """Every frame at native resolution."""
        return self.fps is None and self.scale == 1

    def describe(self) -> str:
        """'every frame, native resolution' or '2 FPS + fill, 0.5x resolution'."""
        rate = "every frame" if self.fps is None else f"{self.fps:g} FPS + fill"
        size = "native resolution" if self.scale == 1 else f"{self.scale:g}x resolution"
        return f"{rate}, {size}"


def live_options(stream_fps: float, fixed_fps: float | None = None) -> list[LiveOption]:
    """The options for a stream: the rates below it (or the user's own SAMPLE rate) that a
    clip can measure, at each resolution; the reference first."""
    if fixed_fps is not None:
        rates: list[float | None] = [fixed_fps]
    else:
        rates = [None] + [r for r in RATES if r < stream_fps * 0.75 and 1 / r <= CLIP_S]
    return [LiveOption(rate, scale) for rate in rates for scale in SCALES]


def due(ts: Sequence[float] | np.ndarray, fps: float | None, next_due: float) -> tuple[np.ndarray, float]:
    """Which of the frames at ``ts`` a rate processes (the first at or after each 1/fps
    step, as archive sampling picks them), and the next step's time."""
    keep = np.zeros(len(ts), dtype=bool)
    for i, stamp in enumerate(ts):
        if fps is None:
            keep[i] = True
        elif stamp >= next_due - 1e-9:
            keep[i] = True
            next_due = (math.floor(stamp * fps + 1e-9) + 1) / fps
    return keep, next_due


def held(keep: np.ndarray) -> np.ndarray:
    """For each frame, the index of the last processed frame at or before it (the first frame
    must be processed): a live row is filled from the past, never from a frame to come."""
    index = np.where(keep, np.arange(len(keep)), -1)
    return np.maximum.accumulate(index)


Parts = dict[str, tuple[float, float]]  # a score by column as (numerator, denominator)


@dataclass(frozen=True, slots=True)
class ClipProfile:
    """What a refresh measured on a clip: each option's score (its lowest column score; the
    columns' pooled parts per clip row in ``parts``), and the scene's motion."""

    at_ts: float                           # stream time of the clip's first frame
    scores: dict[LiveOption, float]
    motion: float = 0.0                    # mean change between consecutive thumbnails
    parts: dict[LiveOption, Parts] = field(default_factory=dict)  # per row of the clip


def clip_scores(ts: np.ndarray, outputs: dict[float, pa.Table],
                options: Sequence[LiveOption], motion: float = 0.0) -> ClipProfile:
    """Score each option on a clip: ``outputs`` holds the function columns of every clip
    frame at each resolution (1.0 the reference); an option's rows take the values of the
    last frame it would have processed. An option's score is its lowest column score."""
    reference = outputs[1.0]
    scores: dict[LiveOption, float] = {}
    parts: dict[LiveOption, Parts] = {}
    rows = max(reference.num_rows, 1)
    for option in options:
        values = outputs.get(option.scale)
        if values is None:
            continue
        keep, _ = due(ts, option.fps, -math.inf)
        taken = values.take(pa.array(held(keep)))
        found = {name: column_parts(reference.schema.field(name).type,
                                    reference.column(name).to_pylist(),
                                    taken.column(name).to_pylist())
                 for name in reference.schema.names}
        scores[option] = min((ratio(p) for p in found.values()), default=1.0)
        parts[option] = {name: (a / rows, b / rows) for name, (a, b) in found.items()}
    return ClipProfile(float(ts[0]) if len(ts) else 0.0, scores, motion, parts)


class SharedMachine:
    """The cores that the live controllers running in this process share: a controller may
    take ``UTILISATION`` of them less what the others' current options take."""

    def __init__(self, cores: int):
        self.cores = cores
        self._running: dict[int, LiveController] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def running(self, control: LiveController) -> Iterator[None]:
        """``control`` shares the cores while the block runs."""
        with self._lock:
            self._running[id(control)] = control
        control.machine = self
        try:
            yield
        finally:
            control.machine = None
            with self._lock:
                self._running.pop(id(control), None)

    def left_for(self, control: LiveController) -> float:
        """The share of a second of one core that ``control`` may take: what the others'
        options leave of ``UTILISATION`` of the cores."""
        with self._lock:
            others = [c for key, c in self._running.items() if key != id(control)]
        return self.cores * UTILISATION - sum(c.load_now() for c in others)


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


MACHINE = SharedMachine(_cores())  # this process's


@dataclass
class Switch:
    """The controller took ``option`` at stream time ``ts``, and why."""

    ts: float
    option: LiveOption
    reason: str


@dataclass
class LiveController:
    """Picks a live pipeline's rate and resolution after each batch. ``budget_s``: the latency
    target per row (None: only keep up); ``accuracy_target``: WITH ACCURACY, if given;
    ``cost_s``: seconds per processed frame at native resolution, before any is measured."""

    options: Sequence[LiveOption]
    stream_fps: float
    budget_s: float | None
    accuracy_target: float | None = None
    cost_s: float = 0.015
    clock: Callable[[], float] = time.monotonic
    capacity: float = UTILISATION
    costs: dict[float, float] = field(default_factory=dict)      # measured, by scale
    profile: ClipProfile | None = None
    switches: list[Switch] = field(default_factory=list)
    frames_processed: int = 0
    frames_filled: int = 0     # rows given the values of an earlier processed frame
    frames_late: int = 0       # ... of them, frames skipped because they waited too long
    refreshes: int = 0
    refresh_s: float = REFRESH_S
    machine: SharedMachine | None = None  # while it runs: the cores it shares
    _current: LiveOption | None = None
    _latencies: deque[tuple[float, float]] = field(default_factory=deque)
    _last_cut: float = -math.inf
    _last_rise: float = -math.inf
    _motion: deque[tuple[float, float]] = field(default_factory=deque)  # (ts, motion)
    _first_call: set[float] = field(default_factory=set)  # scales whose first call was seen
    _stale = False   # the scene changed since the profile: its scores do not hold
    _dirty = True    # something changed since the last choice (capacity, profile, scene)
    # batches since the profile: (stream time of the last row, option, rows)
    _era: list[tuple[float, LiveOption, int]] = field(default_factory=list)
    _drift_at: float | None = None  # stream time the scene changed since the profile
    _changed: tuple[float, float] | None = None  # (when, motion) a change was first seen
    # each frame's second of motion before it: (start, mean), the last WINDOWS_KEPT
    _windows: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=WINDOWS_KEPT))
    _pooled: dict[str, list[float]] = field(default_factory=dict)  # of the eras before

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("a live controller needs at least one option")

    # --- what the pipeline tells it ----------------------------------------------------------

    def cost(self, scale: float) -> float:
        """Seconds per processed frame at ``scale``: measured, else from native's by pixels."""
        if scale in self.costs:
            return self.costs[scale]
        native = self.costs.get(1.0, self.cost_s)
        return native * max(scale * scale, 0.25)

    def measured(self, scale: float, frames: int, seconds: float) -> None:
        """``frames`` processed at ``scale`` took ``seconds``."""
        if frames <= 0:
            return
        if scale not in self._first_call:  # a first call pays once (a model loading)
            self._first_call.add(scale)
            return
        per_frame = seconds / frames
        old = self.costs.get(scale)
        self.costs[scale] = per_frame if old is None else (1 - EWMA) * old + EWMA * per_frame

    def emitted(self, ts: float, rows: int, processed: int, late: int, latency_s: float,
                backlog_frames: int) -> None:
        """A batch went out, up to stream time ``ts``: ``rows`` rows, ``processed`` of them
        computed, ``late`` skipped
        for having waited too long; its oldest row ``latency_s`` after its frame arrived, with
        ``backlog_frames`` frames waiting behind it. Adjusts the capacity."""
        now = self.clock()
        self.frames_processed += processed
        self.frames_filled += rows - processed
        self.frames_late += late
        self._era.append((ts, self.current, rows))
        self._latencies.append((now, latency_s))
        while self._latencies and self._latencies[0][0] < now - CALM_S:
            self._latencies.popleft()
        if self._behind(latency_s, backlog_frames):
            if now - self._last_cut >= CALM_S / 2:  # one cut per burst of late rows
                self.capacity = max(min(self.capacity, self.load(self.current)) * DECREASE,
                                    MIN_CAPACITY)
                self._last_cut, self._dirty = now, True
            return
        calm = all(not self._behind(latency, 0, half=True) for _, latency in self._latencies)
        if calm and backlog_frames <= 1 and now - max(self._last_cut, self._last_rise) >= CALM_S:
            self.capacity = min(self.capacity + INCREASE * UTILISATION, UTILISATION)
            self._last_rise, self._dirty = now, True

    def _behind(self, latency_s: float, backlog_frames: int, half: bool = False) -> bool:
        if self.budget_s is None:  # no target: keep up (less than a second waiting)
            return backlog_frames > self.stream_fps
        limit = self.budget_s * (0.5 if half else 1 - RESERVE)
        return latency_s > limit

    def late(self, waited_s: float) -> bool:
        """Whether a frame that waited ``waited_s`` since it arrived is too late to process."""
        return self.budget_s is not None and waited_s > self.budget_s * (1 - RESERVE)

    def motion(self, ts: float, level: float) -> None:
        """The frame at stream time ``ts`` differs from the one before by ``level``."""
        self._motion.append((ts, level))
        while self._motion and self._motion[0][0] < ts - MOTION_WINDOW_S:
            self._motion.popleft()
        if len(self._motion) < 2:
            return
        window = (self._motion[0][0], sum(x for _, x in self._motion) / len(self._motion))
        self._windows.append(window)  # a profile computed later compares with them
        if self.profile is not None and self._changed is None and \
                self._differs(window, self.profile):
            self._changed = window  # kept until the next profile, even if the change is over

    @staticmethod
    def _differs(window: tuple[float, float], profile: ClipProfile) -> bool:
        """Whether a second of motion after ``profile``'s clip is unlike the clip's."""
        start, level = window
        if start <= profile.at_ts + CLIP_S:
            return False  # it overlaps the clip
        ratio = (level + MOTION_FLOOR) / (profile.motion + MOTION_FLOOR)
        return ratio >= DRIFT or ratio <= 1 / DRIFT

    def profiled(self, profile: ClipProfile) -> None:
        """A refresh scored the options on a clip: the choice follows the content now. If
        the scene changed after the clip was taken (it is profiled in the background), the
        rows since the change wait for the next clip."""
        change = next((w for w in self._windows if self._differs(w, profile)), None)
        self._close_era(profile, None if change is None else change[0])
        self._changed = change
        self.profile = profile
        self.refreshes += 1
        self._stale, self._dirty = False, True

    # --- what it decides ---------------------------------------------------------------------

    @property
    def current(self) -> LiveOption:
        """The option in force (chosen on first use)."""
        if self._current is None:
            self.choose(0.0, "start")
        assert self._current is not None
        return self._current

    def load(self, option: LiveOption) -> float:
        """The share of each second that ``option``'s frames take."""
        return option.processed_fps(self.stream_fps) * self.cost(option.scale)

    def load_now(self) -> float:
        """The load of the option in force (0 before one is chosen)."""
        current = self._current
        return 0.0 if current is None else self.load(current)

    def score(self, option: LiveOption) -> float | None:
        """The option's score on the latest clip; None before any, or while the scene has
        changed since."""
        if self.profile is None or self._stale:
            return None
        return self.profile.scores.get(option)

    def affordable(self, option: LiveOption) -> bool:
        """Whether ``option`` keeps up within the capacity and what the other cameras leave,
        and one frame fits the budget."""
        fits = self.budget_s is None or self.cost(option.scale) <= self.budget_s * (1 - RESERVE)
        share = self.capacity if self.machine is None else \
            min(self.capacity, self.machine.left_for(self))
        return fits and self.load(option) <= share

    def choose(self, ts: float, reason: str = "") -> LiveOption:
        """The option for the frames from stream time ``ts`` on (recorded when it changes).
        The option in force stays while it is affordable and nothing changed (no flapping
        between options whose costs differ by their measurements' noise)."""
        if self._current is not None and not self._dirty and self.affordable(self._current):
            return self._current
        self._dirty = False
        feasible = [o for o in self.options if self.affordable(o)]
        if not feasible:
            pick, why = min(self.options, key=self.load), "nothing keeps up: the cheapest"
        elif any(self.score(o) is None for o in feasible):
            # before a profile: the most frames, then pixels, it can afford
            pick = max(feasible, key=lambda o: (o.processed_fps(self.stream_fps), o.scale))
            why = "the most frames it can afford (" + (
                "the scene changed" if self._stale else "not profiled yet") + ")"
        else:
            pick, why = self._by_score(feasible)
        if pick != self._current:
            self._current = pick
            self.switches.append(Switch(ts, pick, reason or why))
        return pick

    def _by_score(self, feasible: list[LiveOption]) -> tuple[LiveOption, str]:
        def score(option: LiveOption) -> float:
            return self.score(option) or 0.0

        if self.accuracy_target is not None:
            meeting = [o for o in feasible if score(o) >= self.accuracy_target]
            if meeting:
                return min(meeting, key=self.load), \
                    f"the cheapest scoring at least {self.accuracy_target:g}"
            best = max(feasible, key=lambda o: (score(o), -self.load(o)))
            return best, "the best it can afford misses the accuracy target"
        top = max(score(o) for o in feasible)
        pick = min((o for o in feasible if score(o) >= top - TIE), key=self.load)
        return pick, f"the cheapest within {TIE:g} of the best affordable score {top:.2f}"

    def wants_refresh(self, ts: float) -> str | None:
        """Why a clip should be profiled from stream time ``ts`` on; None when not yet."""
        if self.profile is None:
            return "the first profile"
        since = ts - self.profile.at_ts
        if since < MIN_REFRESH_GAP_S:
            return None
        if self._changed is None:
            return f"{self.refresh_s:g} s since the last profile" \
                if since >= self.refresh_s else None
        # the old scores do not hold: the most frames it can afford until the new profile
        self._stale, self._dirty = True, True
        self._drift_at, now = self._changed  # from the start of the second that showed it
        return (f"the scene's motion went from {self.profile.motion:.4f} to {now:.4f} "
                "since the last profile")

    # --- what it reports ---------------------------------------------------------------------

    def _close_era(self, new: ClipProfile, until: float | None = None) -> None:
        """Score the rows since the last profile (those before ``until`` only): those before
        the scene changed at the old clip's scores, those after at the new one's; without a
        change seen (the content may have drifted anywhere in between) at the lower of the
        two."""
        old = self.profile
        later = [] if until is None else [r for r in self._era if r[0] >= until]
        for ts, option, rows in self._era:
            if until is not None and ts >= until:
                continue
            before = None if old is None else old.scores.get(option)
            after = new.scores.get(option)
            if self._drift_at is not None:
                source = old if ts < self._drift_at and before is not None else new
            else:
                source = old if after is None or (before is not None and before < after) \
                    else new
            self._pool(source, option, rows, self._pooled)
        self._era = later
        self._drift_at, self._changed = None, None

    @staticmethod
    def _pool(profile: ClipProfile | None, option: LiveOption, rows: int,
              into: dict[str, list[float]]) -> None:
        if profile is None or option not in profile.parts:
            return
        for name, (numerator, denominator) in profile.parts[option].items():
            pooled = into.setdefault(name, [0.0, 0.0])
            pooled[0] += numerator * rows
            pooled[1] += denominator * rows

    def estimated_accuracy(self) -> float | None:
        """The estimated score of the rows so far, pooled over them as the metric pools
        frames (detection F1 counts boxes: an empty road weighs nothing), each row at its
        option's score on the clip of its scene: rows before a change of the scene on the
        clip before it, rows after on the clip after (without a change seen, the lower of the
        two), rows since the latest clip on it. Late frames are filled rows like any. None
        before a profile or a row, and while the scene has changed and its clip is not
        profiled yet (those rows' accuracy is not known)."""
        if self.profile is None or not self.frames_processed + self.frames_filled:
            return None
        if self.pending():
            return None
        pooled = {name: list(parts) for name, parts in self._pooled.items()}
        for _, option, rows in self._era:
            self._pool(self.profile, option, rows, pooled)
        return min((ratio((a, b)) for a, b in pooled.values()), default=1.0)

    def pending(self) -> bool:
        """Whether rows went out since the scene changed, before its clip was profiled."""
        drift = self._drift_at
        return drift is not None and any(ts >= drift for ts, _, _ in self._era)

    def summary(self) -> str:
        """The option now, the switches, profiles and skipped frames, in one line."""
        accuracy = self.estimated_accuracy()
        estimate = "" if accuracy is None else f", estimated accuracy {accuracy:.2f}"
        if self.pending():
            estimate = ", the estimate waits for a profile of the changed scene"
        return (f"{self.current.describe()} now; {len(self.switches)} switches, "
                f"{self.refreshes} profiles; {self.frames_processed} frames processed, "
                f"{self.frames_filled} filled ({self.frames_late} of them late){estimate}")
