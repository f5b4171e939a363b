"""The tuner's decisions as tables of cases: which plan a target picks, why others lose, how
many clips a profiling budget buys, and how single-knob accuracies combine."""

from __future__ import annotations

import pytest
from vql.catalog import AccuracyProfile

from vql.bind.options import QueryOptions
from vql.physical.choice import ClipPlan, Option, choose, clip_plan, combined_accuracy, frontier
from vql.physical.knobs import Config

EXACT = Option(Config(), 20.0, 0.00056, 1.0)
HALF = Option(Config(scale=0.5), 12.0, 0.00034, 0.97)
ONE_FPS = Option(Config(fps=1.0), 2.0, 0.000056, 0.93)
SPARSE = Option(Config(fps=0.25, scale=0.5), 0.5, 0.000014, 0.8)
UNKNOWN = Option(Config(fps=0.1), 0.2, 0.000006, None)
OPTIONS = [EXACT, HALF, ONE_FPS, SPARSE, UNKNOWN]


@pytest.mark.parametrize(("targets", "budget", "chosen"), [
    (QueryOptions(accuracy=0.9), None, ONE_FPS),          # cheapest that reaches 0.9
    (QueryOptions(accuracy=0.95), None, HALF),
    (QueryOptions(accuracy=1.0), None, EXACT),
    (QueryOptions(latency_s=15.0), 15.0, HALF),           # most accurate that fits
    (QueryOptions(latency_s=100.0), 100.0, EXACT),
    (QueryOptions(latency_s=1.0), 1.0, SPARSE),           # known accuracy beats unknown
    (QueryOptions(cost_usd=0.0001), None, ONE_FPS),
    (QueryOptions(latency_s=1.0, accuracy=0.9), 1.0, None),  # nothing does both
    (QueryOptions(latency_s=0.01), 0.01, None),
])
def test_choose(targets: QueryOptions, budget: float | None, chosen: Option | None) -> None:
    ranked = choose(OPTIONS, targets, budget)
    assert ranked.chosen == chosen
    assert ranked.fastest == UNKNOWN
    assert len(ranked.rejected) == 2 and all(reason for _, reason in ranked.rejected)


def test_rejected_plans_say_why() -> None:
    ranked = choose(OPTIONS, QueryOptions(accuracy=0.95), None)
    reasons = dict((o.config, r) for o, r in ranked.rejected)
    assert reasons[Config(fps=0.1)] == "accuracy not profiled"
    assert reasons[Config(fps=0.25, scale=0.5)] == "estimated accuracy 0.800 < 0.95"
    ranked = choose(OPTIONS, QueryOptions(latency_s=15.0), 15.0)
    assert dict((o.config, r) for o, r in ranked.rejected)[Config()] == \
        "estimated 20.00 s > the 15.00 s left"


@pytest.mark.parametrize(("budget", "per_second", "duration", "plan"), [
    (1000.0, 0.1, 1254.0, ClipPlan(8, 20.0)),    # plenty: eight clips of 20 s
    (36.0, 0.1, 1254.0, ClipPlan(4, 15.0)),      # 60 s of clips at 0.6 s each
    (30.0, 0.1, 1254.0, ClipPlan(4, 30.0 / 0.6 / 4)),
    (20.0, 0.1, 1254.0, None),                   # under 4 x 10 s: nothing useful
    (100.0, 0.1, 30.0, ClipPlan(1, 30.0, whole=True)),  # a short video: all of it
    (50.0, 0.1, 70.0, ClipPlan(1, 70.0, whole=True)),   # under 80 s is short
    (12.0, 0.1, 30.0, ClipPlan(4, 3.75)),        # the whole costs 18 s: four clips, half of it
    (1.0, 0.1, 30.0, None),
    (8.0, 0.1, 30.0, None),                      # half the short video costs 9 s
    (10.0, 0.0, 30.0, None),                     # no cost known
])
def test_clip_plan(budget: float, per_second: float, duration: float,
                   plan: ClipPlan | None) -> None:
    found = clip_plan(budget, per_second, duration)
    if plan is None:
        assert found is None
    else:
        assert found is not None and found.count == plan.count and found.whole == plan.whole
        assert found.seconds == pytest.approx(plan.seconds)


def profile(knob: str, value: float, score: float) -> AccuracyProfile:
    return AccuracyProfile("t", "p", knob, value, score, "per_frame", 1.0, 100, "clips", "c")


@pytest.mark.parametrize(("config", "expected"), [
    (Config(), 1.0),
    (Config(fps=1.0), 0.9),
    (Config(scale=0.5), 0.95),
    (Config(fps=1.0, scale=0.5), 0.9 * 0.95),   # knob independence: the product
    (Config(fps=2.0), None),                    # not measured
    (Config(fps=0.5), 0.8),                     # a lower rate is never better than 1 FPS
    (Config(scale=0.25), 0.95),                 # 0.97 measured, but 0.5x scored 0.95
    (Config(diff=0.01), 0.85),                  # a larger threshold is never better
    (Config(fps=1.0, diff=0.005), 0.9 * 0.85),
    (Config(fps=0.5, scale=0.5), 0.6),          # measured together: what it scored
    (Config(fps=0.5, scale=0.25), 0.8 * 0.95),  # not measured together: the product
    (Config(fps=1.0, scale=0.25), 0.9),         # measured 0.99, but 1 FPS alone scored 0.9
])
def test_combined_accuracy(config: Config, expected: float | None) -> None:
    profiles = [profile("fps", 1.0, 0.9), profile("scale", 0.5, 0.95),
                profile("fps", 0.5, 0.8), profile("scale", 0.25, 0.97),
                profile("diff", 0.005, 0.85), profile("diff", 0.01, 0.88),
                combined(Config(fps=0.5, scale=0.5), 0.6),
                combined(Config(fps=1.0, scale=0.25), 0.99)]
    found = combined_accuracy(config, profiles)
    assert found == (pytest.approx(expected) if expected is not None else None)


def test_a_profile_of_everything_the_query_reads_is_not_clamped() -> None:
    profiles = [profile("fps", 1.0, 0.9), profile("fps", 0.5, 0.95),
                profile("scale", 0.5, 0.9), profile("scale", 0.25, 0.97)]
    # Measured on all the query reads, a score is the accuracy (an aggregate's errors can
    # cancel at a lower rate); measured on a sample, the richer value's lower score bounds it.
    assert combined_accuracy(Config(fps=0.5), profiles, monotone=False) == 0.95
    assert combined_accuracy(Config(fps=0.5), profiles) == 0.9
    assert combined_accuracy(Config(fps=0.5, scale=0.25), profiles, monotone=False) == \
        pytest.approx(0.95 * 0.97)


def combined(config: Config, score: float) -> AccuracyProfile:
    return AccuracyProfile("t", "p", "combined", 0.0, score, "per_frame", 1.0, 100, "clips",
                           "c", config=config.key())


def test_the_frontier_holds_what_no_other_plan_beats_on_time_and_accuracy() -> None:
    seconds = {Config(): 10.0, Config(fps=1.0): 2.0, Config(scale=0.5): 5.0,
               Config(fps=1.0, scale=0.5): 1.0, Config(fps=0.5): 1.5,
               Config(fps=0.5, scale=0.5): 0.7}
    profiles = [profile("fps", 1.0, 0.95), profile("scale", 0.5, 0.9), profile("fps", 0.5, 0.8)]

    def seconds_of(config: Config, _: list[AccuracyProfile]) -> float:
        return seconds[config]

    # 0.5x (0.9 in 5 s) loses to 1 FPS (0.95 in 2 s); 0.5 FPS (0.8 in 1.5 s) to 1 FPS at 0.5x
    # (0.855 in 1 s).
    assert frontier(list(seconds), profiles, seconds_of) == [
        Config(fps=0.5, scale=0.5), Config(fps=1.0, scale=0.5), Config(fps=1.0), Config()]
    # Measured together, 1 FPS at 0.5x scores 0.5: 0.5 FPS alone is back on the frontier.
    measured = [*profiles, combined(Config(fps=1.0, scale=0.5), 0.5)]
    assert frontier(list(seconds), measured, seconds_of) == [
        Config(fps=0.5, scale=0.5), Config(fps=0.5), Config(fps=1.0), Config()]


@pytest.mark.parametrize(("observed", "pairs", "profiled", "drift"), [
    (0.10, 100, 0.08, False),   # about as often as profiled
    (0.30, 100, 0.08, True),    # far more change than profiled
    (0.30, 10, 0.08, False),    # too few pairs to tell
    (0.30, 100, None, False),   # nothing profiled to compare with
    (0.04, 100, 0.0, False),    # within the slack
])
def test_drift(observed: float, pairs: int, profiled: float | None, drift: bool) -> None:
    from vql.tune.tuner import drifted

    assert drifted(observed, pairs, profiled) is drift
