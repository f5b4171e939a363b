"""The pure parts of choosing a plan for a target: the options and how they are ranked
(``choose``, ``violations``), how many clips a profiling budget buys (``clip_plan``), the
frontier of estimated time against accuracy, and how single-knob accuracies combine
(Chameleon's knob independence). Nothing here runs a query: ``vql.tune`` measures, then calls
these."""

from __future__ import annotations

import math
import typing as t
from dataclasses import dataclass

from vql.bind.options import QueryOptions
from vql.catalog import AccuracyProfile
from vql.physical.knobs import Config

CLIP_SECONDS = 20.0      # a clip's length when the budget allows
MIN_CLIP_SECONDS = 10.0  # shorter clips say too little about sampling
MAX_CLIPS = 8
MIN_CLIPS = 4
# Profiling runs the reference on the clips and on the spread frames, and each knob value once;
# in all it costs about this many runs of the exact plan over the clips (measured on the room
# video: 40 s for 4 clips of 10 s, whose exact run takes about 7 s).
RUNS_PER_REFERENCE = 6.0


@dataclass(frozen=True, slots=True)
class ClipPlan:
    """What an accuracy profile runs on: ``count`` clips of ``seconds``, or the whole extent."""

    count: int
    seconds: float
    whole: bool = False  # the whole extent, as it is: too short to be sampled usefully


# An extent shorter than this is profiled whole: the clips it needs would cover most of it,
# and short clips misjudge functions with state (measured: a background model on 4 clips of
# 3.8 s of the road video put half resolution at 0.988 where the whole video gave 0.893).
SHORT_EXTENT_S = 2 * MIN_CLIPS * MIN_CLIP_SECONDS


def minimal_profile_s(reference_s_per_video_s: float, duration: float = math.inf) -> float:
    """What the smallest useful accuracy profile costs: MIN_CLIPS clips of MIN_CLIP_SECONDS,
    or the whole extent when it is short."""
    seconds = duration if duration < SHORT_EXTENT_S else MIN_CLIPS * MIN_CLIP_SECONDS
    return seconds * reference_s_per_video_s * RUNS_PER_REFERENCE


def clip_plan(budget_s: float, reference_s_per_video_s: float, duration: float
              ) -> ClipPlan | None:
    """How many clips of what length fit the profiling budget, covering at most half of the
    extent; None when even the smallest useful profile does not fit. An extent shorter than
    SHORT_EXTENT_S is profiled whole when the budget allows, else on MIN_CLIPS clips covering
    half of it (rates too low for them stay unmeasured)."""
    per_clip_second = reference_s_per_video_s * RUNS_PER_REFERENCE
    if per_clip_second <= 0 or duration <= 0:
        return None
    affordable = budget_s / per_clip_second  # seconds of clips
    half = duration * 0.5
    if duration < SHORT_EXTENT_S:
        if affordable >= duration:
            return ClipPlan(1, duration, whole=True)
        if affordable >= half and half / MIN_CLIPS >= 2:
            return ClipPlan(MIN_CLIPS, half / MIN_CLIPS)
        return None
    affordable = min(affordable, half)
    if affordable >= MAX_CLIPS * CLIP_SECONDS:
        return ClipPlan(MAX_CLIPS, CLIP_SECONDS)
    count = max(MIN_CLIPS, min(MAX_CLIPS, int(affordable // CLIP_SECONDS)))
    seconds = min(CLIP_SECONDS, affordable / count)
    if seconds < MIN_CLIP_SECONDS:
        return None
    return ClipPlan(count, seconds)



@dataclass(frozen=True, slots=True)
class Option:
    """One configuration with its estimates."""

    config: Config
    seconds: float
    usd: float
    accuracy: float | None

    def describe(self) -> str:
        """The configuration with its estimated seconds, dollars and accuracy, in one line."""
        acc = "accuracy unknown" if self.accuracy is None else f"accuracy {self.accuracy:.3f}"
        return (f"{self.config.describe()}: {self.seconds:.2f} s, ${self.usd:.6f}, {acc}")


@dataclass(frozen=True, slots=True)
class Ranked:
    """``choose``'s answer: the option chosen (or None), two rejected with why, the fastest."""

    chosen: Option | None
    rejected: tuple[tuple[Option, str], ...]
    fastest: Option


def _proxy(option: Option) -> tuple[float, float, float]:
    """Ordering by accuracy; without a profile, more frames and pixels are assumed better."""
    fps = option.config.fps if option.config.fps is not None else float("inf")
    known = option.accuracy if option.accuracy is not None else -1.0
    return (known, fps, option.config.scale)


def violations(option: Option, targets: QueryOptions, time_budget: float | None) -> list[str]:
    """Why ``option`` misses the targets (time left, cost, accuracy); empty when it meets them."""
    found = []
    if time_budget is not None and option.seconds > time_budget:
        found.append(f"estimated {option.seconds:.2f} s > the {time_budget:.2f} s left")
    if targets.cost_usd is not None and option.usd > targets.cost_usd:
        found.append(f"estimated ${option.usd:.6f} > ${targets.cost_usd:g}")
    if targets.accuracy is not None:
        if option.accuracy is None and not option.config.is_reference:
            found.append("accuracy not profiled")
        elif option.accuracy is not None and option.accuracy < targets.accuracy:
            found.append(f"estimated accuracy {option.accuracy:.3f} < {targets.accuracy:g}")
    return found


def choose(options: list[Option], targets: QueryOptions, time_budget: float | None) -> Ranked:
    """With an ACCURACY target: the cheapest option that meets every target. Otherwise: the
    most accurate that meets them (the faster of equals). The best two others are returned
    with why they lost."""
    if targets.accuracy is not None:
        order = sorted(options, key=lambda o: (o.seconds, [-v for v in _proxy(o)]))
    else:
        order = sorted(options, key=lambda o: ([-v for v in _proxy(o)], o.seconds))
    feasible = [o for o in order if not violations(o, targets, time_budget)]
    chosen = feasible[0] if feasible else None
    rejected: list[tuple[Option, str]] = []
    for option in order:
        if option is chosen or len(rejected) == 2:
            continue
        missed = violations(option, targets, time_budget)
        if missed:
            reason = "; ".join(missed)
        elif chosen is not None and targets.accuracy is not None:
            reason = f"slower ({option.seconds:.2f} s vs {chosen.seconds:.2f} s)"
        elif chosen is not None and _proxy(option) < _proxy(chosen):
            reason = "less accurate" if option.accuracy is None or chosen.accuracy is None \
                else f"less accurate ({option.accuracy:.3f} vs {chosen.accuracy:.3f})"
        else:
            reason = f"slower ({option.seconds:.2f} s) at no better accuracy"
        rejected.append((option, reason))
    fastest = min(options, key=lambda o: o.seconds)
    return Ranked(chosen, tuple(rejected), fastest)


def frontier(configs: list[Config], profiles: list[AccuracyProfile],
             seconds_of: t.Callable[[Config, list[AccuracyProfile]], float],
             monotone: bool = True) -> list[Config]:
    """The configurations no other beats on both estimated time and accuracy, cheapest first."""
    scored = [(seconds_of(c, profiles), -a, c) for c in configs
              if (a := combined_accuracy(c, profiles, monotone)) is not None]
    out, best = [], -math.inf
    for _, negative, config in sorted(scored, key=lambda s: (s[0], s[1])):
        if -negative > best:
            out.append(config)
            best = -negative
    return out


def knob_of(config: Config) -> tuple[str, float]:
    """The knob a single-knob configuration changes, and its value."""
    if config.fps is not None:
        return "fps", config.fps
    if config.diff is not None:
        return "diff", config.diff
    return "scale", config.scale


def single_knob_values(configs: list[Config]) -> list[Config]:
    """The configurations that change exactly one knob from the reference."""
    return [c for c in configs if c.changed == 1]


def combined_accuracy(config: Config, profiles: list[AccuracyProfile],
                      monotone: bool = True) -> float | None:
    """A configuration's estimated accuracy; None if a knob value was not measured.

    With ``monotone`` (a profile measured on a sample of what the query reads), a single knob
    value's accuracy is the lowest measured at it or at any richer value of the same knob:
    fewer frames or pixels are assumed never to be more accurate on the rest of the table (a
    noisy high score at a low rate does not count). A profile of everything the query reads
    is not a sample: its scores are the accuracies themselves (an aggregate's errors can
    cancel at a lower rate). A configuration that changes several knobs scores what it
    measured when the profile ran it, else the product of its knobs' accuracies (Chameleon's
    knob independence); either way no more than its poorest knob alone."""
    parts = []
    for knob, value in (("fps", config.fps), ("scale", config.scale), ("diff", config.diff)):
        if value is None or (knob == "scale" and value == 1):
            continue
        measured = [p for p in profiles if p.knob == knob]
        if not any(math.isclose(p.value, value) for p in measured):
            return None
        # A larger difference threshold skips more: it is the "poorer" direction for diff.
        richer = [p.accuracy for p in measured if (p.value <= value + 1e-9 if knob == "diff"
                                                   else p.value >= value - 1e-9)
                  and (monotone or math.isclose(p.value, value))]
        parts.append(min(richer))
    if not parts:
        return 1.0
    ran = [p.accuracy for p in profiles if p.knob == "combined" and p.config == config.key()]
    return min(ran[0], *parts) if ran else math.prod(parts)


def pass_rate(config: Config, profiles: list[AccuracyProfile]) -> float:
    """The share of decoded frames a configuration's cascade lets through (1 without one)."""
    if config.diff is None:
        return 1.0
    found = [p.pass_rate for p in profiles if p.knob == "diff" and p.pass_rate is not None
             and math.isclose(p.value, config.diff)]
    return found[0] if found else 1.0
