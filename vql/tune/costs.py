"""The profiler behind ANALYZE <video table>: measures what decoding and each frame function
cost per frame on this machine, on a sample of the table's frames, for the cost model.

What it measures, at each decode resolution the optimizer may choose
(``knobs.SCALES``: native, 0.5x, 0.25x):

* decode, ``sequential``: a run of consecutive frames from a keyframe, as a dense scan reads them;
* decode, ``seek``: frames spread over the table, each read on its own, as sparse sampling does;
* every frame function whose arguments after ``frame`` all have defaults, with those defaults
  (or the calls a query makes, when a query asks), on the sequential run (so that stateful
  functions see frames in order): at native resolution at each of ``BATCH_SIZES`` and the
  configured batch size (a query measuring its own costs: batch 1 and the configured size),
  at other resolutions at the configured batch size; the physical planner runs a pipeline at
  the measured cheapest batch size (``cost.best_batch_size``). A model's loading is excluded
  (one warm-up call first). Functions are measured on every device they declare that this
  process has (``vql.kernels.device``): the device knob (``vql.kernels.placement``) compares
  them. Decoding is measured on the CPU, where decord runs.

Functions that cannot run here (a model file that is missing, say) are reported, not stored.
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass

import numpy as np

from vql.catalog import Catalog, Profile, VideoRow
from vql.errors import Error
from vql.exec.decode import FrameReader
from vql.exec.operators import scaled_size
from vql.functions.registry import FunctionRegistry
from vql.functions.spec import FrameFunction
from vql.kernels.device import available_devices
from vql.physical.cost import resolution_name
from vql.physical.knobs import SCALES
from vql.plan.nodes import variant_of
from vql.settings import Settings

SAMPLE_FRAMES = 32
BATCH_SIZES = (1, 4, 16, 32)  # measured at native resolution by ANALYZE: the batch-size curve
REPEATS = 3  # function timings are the best of at most this many runs,
AGREE = 0.1  # ending early when two of them agree within 10 %


@dataclass(frozen=True, slots=True)
class Outcome:
    """One line of ANALYZE's answer: a stored profile, or why a function was not profiled."""

    profile: Profile | None
    operator: str
    status: str


def spread(videos: list[VideoRow], count: int) -> list[tuple[VideoRow, int]]:
    """``count`` frames spread evenly over all the videos, in table order."""
    total = sum(v.frames for v in videos)
    positions = sorted(set(np.linspace(0, total - 1, min(count, total)).round().astype(int)))
    picked, start = [], 0
    for video in videos:
        picked += [(video, int(p - start)) for p in positions if start <= p < start + video.frames]
        start += video.frames
    return picked


@dataclass(frozen=True, slots=True)
class Timing:
    """How functions are timed in one profiling: at which batch sizes (native resolution),
    and the best of how many runs at most."""

    batch_sizes: tuple[int, ...]
    repeats: int


class Profiler:
    """ANALYZE's cost profiler: times decoding and frame functions on a table's frames."""

    def __init__(self, catalog: Catalog, registry: FunctionRegistry, settings: Settings):
        self.catalog = catalog
        self.registry = registry
        self.settings = settings

    def profile(self, table: str, frames: int = SAMPLE_FRAMES,
                scales: tuple[float, ...] = SCALES,
                calls: list[tuple[FrameFunction, tuple[t.Any, ...]]] | None = None,
                batch_sizes: tuple[int, ...] = BATCH_SIZES, repeats: int = REPEATS
                ) -> list[Outcome]:
        """Measure decoding and functions (``calls``, or every function with default
        arguments) at each of ``scales``, at native resolution at each of ``batch_sizes``;
        a function's time is the best of ``repeats`` runs."""
        timing = Timing(tuple(sorted({*batch_sizes, self.settings.batch_size})), max(repeats, 1))
        videos = self.catalog.videos_of(table)
        if not videos:
            return []
        if calls is None:
            calls = [(f, ()) for f in self.registry if isinstance(f, FrameFunction)]
        outcomes = []
        for scale in scales:
            outcomes.extend(self._at_scale(table, videos, frames, scale, calls, timing))
        return outcomes

    def _at_scale(self, table: str, videos: list[VideoRow], frames: int, scale: float,
                  calls: list[tuple[FrameFunction, tuple[t.Any, ...]]], timing: Timing
                  ) -> list[Outcome]:
        threads = self.settings.decode_thread_count()
        first = videos[0]
        run = np.arange(min(frames, first.frames))
        sample = f"{len(run)} consecutive frames of {first.path}"
        reader = FrameReader(first.path, threads, scaled_size(first.width, first.height, scale))
        # warms the decoder; the timed read below starts over (frames of a damaged file that
        # cannot be decoded are left out of both)
        pixels, decoded = reader.read_or_skip(run)
        run = run[decoded]
        started = time.perf_counter()
        reader.read_or_skip(run)
        elapsed = time.perf_counter() - started
        outcomes = [self._decode(table, "sequential", elapsed, len(run), sample, scale)]
        outcomes.append(self._seek(table, videos, frames, threads, scale))
        for function, constants in calls:
            outcomes.extend(self._function(table, function, constants, pixels, sample, scale,
                                           timing))
        return outcomes

    def _decode(self, table: str, pattern: str, seconds: float, count: int,
                sample: str, scale: float) -> Outcome:
        profile = Profile(table, "decode", pattern, "cpu", 1, seconds * 1000 / count, count,
                          sample, resolution_name(scale))
        return Outcome(profile, "decode", "measured")

    def _seek(self, table: str, videos: list[VideoRow], frames: int, threads: int,
              scale: float) -> Outcome:
        picked = spread(videos, frames)
        readers: dict[str, FrameReader] = {}
        seconds = 0.0
        for video, frame_id in picked:
            if video.path not in readers:  # opening a file is not part of a frame's cost
                readers[video.path] = FrameReader(
                    video.path, threads, scaled_size(video.width, video.height, scale))
            reader = readers[video.path]
            started = time.perf_counter()
            reader.read_or_skip(np.array([frame_id]))  # a damaged frame costs its attempt
            seconds += time.perf_counter() - started
        sample = f"{len(picked)} frames spread over {len(videos)} videos"
        return self._decode(table, "seek", seconds, len(picked), sample, scale)

    def _function(self, table: str, function: FrameFunction, constants: tuple[t.Any, ...],
                  pixels: np.ndarray, sample: str, scale: float, timing: Timing
                  ) -> list[Outcome]:
        if not constants:
            if any(p.required for p in function.params[1:]):
                return [Outcome(None, function.name, "not profiled: it has arguments without "
                                                     "defaults")]
            constants = tuple(p.default for p in function.params[1:])
        outcomes = []
        sizes = timing.batch_sizes if scale == 1 else (self.settings.batch_size,)
        available = available_devices()
        for device in (d for d in function.traits.devices if d in available):
            for batch in sorted(sizes):
                try:
                    seconds = self._time(function, constants, device, pixels, batch,
                                         timing.repeats)
                except Exception as error:  # reported in ANALYZE's answer, not stored
                    reason = str(error) if isinstance(error, Error) else \
                        f"{type(error).__name__}: {error}"
                    where = "" if device == "cpu" else f" on {device}"
                    outcomes.append(Outcome(None, function.name, f"not profiled{where}: {reason}"))
                    break
                profile = Profile(table, function.name, variant_of(constants), device, batch,
                                  seconds * 1000 / len(pixels), len(pixels), sample,
                                  resolution_name(scale))
                outcomes.append(Outcome(profile, function.name, "measured"))
        return outcomes

    def _time(self, function: FrameFunction, constants: tuple[t.Any, ...], device: str,
              pixels: np.ndarray, batch: int, repeats: int) -> float:
        """Seconds to run ``function`` over ``pixels`` in batches: the best of up to
        ``repeats`` runs (short runs are noisy), stopping early once two runs agree within
        AGREE."""
        runs: list[float] = []
        ts = np.arange(len(pixels)) / 25.0  # timed functions: frames 40 ms apart
        while len(runs) < repeats:
            if not runs:  # loads the model and lets the runtime plan for this batch shape (the
                # first call at a new shape is slower): not counted, and on an evaluator of
                # its own (a stateful one must see the frames from the first)
                function.open(constants, device)(pixels[:batch], ts[:batch])
            evaluator = function.open(constants, device)
            started = time.perf_counter()
            for start in range(0, len(pixels), batch):
                evaluator(pixels[start:start + batch], ts[start:start + batch])
            runs.append(time.perf_counter() - started)
            fastest = sorted(runs)[:2]
            if len(fastest) == 2 and fastest[1] <= fastest[0] * (1 + AGREE):
                break
        return min(runs)
