"""The latency controller's decisions, driven by a fake clock (real time would make these
slow and flaky). A real query under a real LATENCY target is in test_targets.py."""

from __future__ import annotations

import pytest

from vql.exec.controller import LatencyController, RateOption

# Cost per second of video, accuracy: every frame is exact and slow; sparse rates are cheap.
OPTIONS = [RateOption(10.0, 0.10, 1.0), RateOption(2.0, 0.03, 0.95),
           RateOption(1.0, 0.015, 0.9), RateOption(0.25, 0.004, 0.7)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def controller(budget: float, clock: FakeClock, total: float = 100.0) -> LatencyController:
    c = LatencyController(OPTIONS, total_video_s=total, budget_s=budget, invocation_s=10.0,
                          clock=clock)
    c.start()
    return c


@pytest.mark.parametrize(("budget", "rate"), [
    (20.0, 10.0),   # 10 s needed for every frame; 18 s usable: the exact rate
    (5.0, 2.0),     # 4.5 s usable: 2 FPS (3 s) fits, every frame does not
    (1.0, 0.25),    # 0.9 s usable: only the sparsest rate fits
    (0.1, 0.25),    # nothing fits: the fastest, the best that can be done
])
def test_first_invocation_takes_the_most_accurate_rate_that_fits(budget: float,
                                                                 rate: float) -> None:
    assert controller(budget, FakeClock()).rate(0.0) == rate


def test_a_slow_start_lowers_later_rates_and_a_fast_one_raises_them() -> None:
    clock = FakeClock()
    c = controller(5.0, clock)
    assert c.rate(0.0) == 2.0           # estimated 0.3 s for these 10 s of video
    c.processed(0.0)                     # the first batch: what it cost is not extrapolated
    clock.now = 1.2                      # the next 10 s took 1.2 s: four times the estimate
    c.processed(10.0)
    assert c.correction() == pytest.approx(4.0)
    assert c.rate(10.0) < 2.0
    clock = FakeClock()
    c = controller(5.0, clock)
    c.rate(0.0)
    c.processed(0.0)
    clock.now = 0.15                     # twice as fast as estimated
    c.processed(10.0)
    assert c.correction() == pytest.approx(0.5)
    assert c.rate(10.0) == 2.0


def test_rates_decided_ahead_of_processing_do_not_count_as_slow() -> None:
    """The operator decides an invocation's rate before it processes its frames: time spent
    before any frame was processed says nothing about the estimates."""
    clock = FakeClock()
    c = controller(5.0, clock)
    for k in range(4):                   # four invocations decided, nothing processed yet
        assert c.rate(10.0 * k) == 2.0
        clock.now += 0.01
    assert c.correction() == 1.0


def test_the_first_batch_is_not_extrapolated() -> None:
    """A first batch that loads a model costs far more than its estimate; the batches after
    it run as estimated: the rate stays."""
    clock = FakeClock()
    c = controller(5.0, clock)
    assert c.rate(0.0) == 2.0
    clock.now = 0.8                      # model loading and a first seek: 0.8 s for 0.3 s
    c.processed(5.0)
    clock.now = 0.8 + 0.15               # the other half of the invocation, as estimated
    c.processed(10.0)
    assert c.correction() == pytest.approx(1.0)
    assert c.rate(10.0) == 2.0


def test_safety_keeps_enough_time_for_the_rest_at_the_fastest_rate() -> None:
    clock = FakeClock()
    c = controller(5.0, clock)
    clock.now = 4.4  # almost all spent before the first invocation (a slow start-up)
    assert c.rate(0.0) == 0.25


def test_estimated_accuracy_is_weighted_by_video_time() -> None:
    clock = FakeClock()
    c = controller(20.0, clock, total=20.0)
    c.rate(0.0)                         # 10 s at every frame (1.0)
    clock.now = 17.5                    # far slower than estimated: the rest must be sparse
    c.rate(10.0)
    assert c.decisions[1].fps < 10.0
    expected = (1.0 * 10 + c.decisions[1].accuracy * 10) / 20  # type: ignore[operator]
    assert c.accuracy() == pytest.approx(expected)
    assert "2 invocations" in c.summary()


def test_no_options_is_an_error() -> None:
    with pytest.raises(ValueError):
        LatencyController([], 1.0, 1.0, 1.0)
