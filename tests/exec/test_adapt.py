"""The live controller's decisions (vql/exec/adapt.py), driven by a fake clock and made-up
measurements; a real stream under a real target is in test_live_queries.py."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from vql.exec.adapt import (
    ClipProfile,
    LiveController,
    LiveOption,
    SharedMachine,
    clip_scores,
    due,
    held,
    live_options,
)

FPS = 10.0
EVERY, EVERY_HALF = LiveOption(None, 1.0), LiveOption(None, 0.5)
FIVE, ONE, HALF_FPS = LiveOption(5.0, 1.0), LiveOption(1.0, 1.0), LiveOption(0.5, 0.5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def controller(budget: float | None = 0.5, accuracy: float | None = None,
               cost: float = 0.02) -> tuple[LiveController, FakeClock]:
    clock = FakeClock()
    control = LiveController(live_options(FPS), FPS, budget, accuracy, cost_s=cost,
                             clock=clock)
    return control, clock


def profile(scores: dict[LiveOption, float], at: float = 0.0,
            motion: float = 0.001) -> ClipProfile:
    """A clip's profile: each option's score as a mean over its rows (all others 1.0)."""
    every = {o: scores.get(o, 1.0) for o in live_options(FPS)}
    return ClipProfile(at, every, motion, {o: {"x": (s, 1.0)} for o, s in every.items()})


def test_options_are_the_rates_a_clip_can_measure_at_each_resolution() -> None:
    options = live_options(12.5)
    assert {o.fps for o in options} == {None, 5.0, 2.0, 1.0, 0.5}  # 0.25 FPS: 4 s > a clip
    assert {o.scale for o in options} == {1.0, 0.5}
    assert options[0] == EVERY
    # a user's SAMPLE fixes the rate: only the resolution varies
    assert {(o.fps, o.scale) for o in live_options(12.5, 2.0)} == {(2.0, 1.0), (2.0, 0.5)}
    assert {o.fps for o in live_options(4.0)} == {None, 2.0, 1.0, 0.5}  # 5 FPS is not below


def test_a_rate_takes_the_first_frame_of_each_step_and_fills_from_the_past() -> None:
    ts = np.arange(10) / 10  # 10 frames at 10 FPS
    keep, next_due = due(ts, 2.0, -math.inf)
    assert keep.nonzero()[0].tolist() == [0, 5] and next_due == pytest.approx(1.0)
    assert held(keep).tolist() == [0, 0, 0, 0, 0, 5, 5, 5, 5, 5]
    keep, _ = due(ts[5:], 2.0, 0.4)  # a batch later: the step carries over
    assert keep.tolist() == [True, False, False, False, False]


def test_clip_scores_compare_each_option_with_every_frame_at_native_resolution() -> None:
    ts = np.arange(20) / FPS
    seen = [False] * 13 + [True] * 7  # something appears at frame 13
    half = [False] * 20               # at half resolution it is not seen at all
    outputs = {1.0: pa.table({"seen": seen}), 0.5: pa.table({"seen": half})}
    scores = clip_scores(ts, outputs, live_options(FPS), motion=0.02).scores
    assert scores[EVERY] == 1.0
    assert scores[EVERY_HALF] == 0.0  # F1 of the true rows: none found
    assert scores[FIVE] == pytest.approx(2 * 6 / (6 + 7))  # frame 13 is filled from 12
    assert scores[ONE] == 0.0  # frames 0 and 10 processed: all missed
    empty = clip_scores(ts, {1.0: pa.table({"seen": [False] * 20}),
                             0.5: pa.table({"seen": [False] * 20})}, live_options(FPS))
    assert set(empty.scores.values()) == {1.0}  # an empty scene: every option is exact


def test_before_a_profile_it_processes_the_most_frames_it_can_afford() -> None:
    control, _ = controller(cost=0.02)  # every frame: 0.2 of each second
    assert control.current == EVERY
    control, _ = controller(cost=0.15)  # every frame 1.5 s a second; at half size 0.375
    assert control.current == EVERY_HALF  # more frames first, then more pixels
    control, _ = controller(cost=0.4)  # at half size 1.0 s a second; 5 FPS at half 0.5
    assert control.current == LiveOption(5.0, 0.5)


def test_an_empty_scene_is_watched_cheaply_and_a_busy_one_closely() -> None:
    control, _ = controller()
    control.profiled(profile({}))  # every option exact: the cheapest
    assert control.choose(2.0) == HALF_FPS
    busy = {EVERY_HALF: 0.5, FIVE: 0.95, LiveOption(5.0, 0.5): 0.5, LiveOption(2.0, 1.0): 0.7,
            ONE: 0.4, LiveOption(2.0, 0.5): 0.3, LiveOption(1.0, 0.5): 0.2,
            LiveOption(0.5, 1.0): 0.1, HALF_FPS: 0.1}
    control.profiled(profile(busy, at=4.0))
    assert control.choose(6.0) == EVERY  # the best; 5 FPS is not within 0.02 of it
    assert control.switches[-1].ts == 6.0
    assert control.estimated_accuracy() is None  # no rows went out yet


def test_an_accuracy_target_takes_the_cheapest_option_that_meets_it() -> None:
    control, _ = controller(accuracy=0.9)
    control.profiled(profile({EVERY_HALF: 0.5, FIVE: 0.95, LiveOption(5.0, 0.5): 0.5,
                              LiveOption(2.0, 1.0): 0.7, ONE: 0.4, LiveOption(2.0, 0.5): 0.3,
                              LiveOption(1.0, 0.5): 0.2, LiveOption(0.5, 1.0): 0.1,
                              HALF_FPS: 0.1}))
    assert control.choose(0.0) == FIVE


def test_late_rows_cut_the_rate_and_calm_ones_raise_it_again() -> None:
    control, clock = controller(budget=0.5, cost=0.06)  # every frame: 0.6 of each second
    assert control.current == EVERY
    control.measured(1.0, 4, 0.24)  # the first call (a model loading) is not counted
    control.measured(1.0, 4, 0.24)
    clock.now = 1.0
    control.emitted(0.0, rows=4, processed=4, late=0, latency_s=0.9, backlog_frames=6)
    assert control.capacity == pytest.approx(0.6 * 0.6)  # cut to 60 % of the load then
    assert control.choose(1.0) == EVERY_HALF  # 0.15 of each second fits in 0.36
    for step in range(1, 31):  # rows well inside the budget for a while
        clock.now = 1.0 + step * 0.5
        control.emitted(0.0, rows=1, processed=1, late=0, latency_s=0.05, backlog_frames=0)
    assert control.capacity == pytest.approx(0.8)
    assert control.choose(7.0) == EVERY
    assert control.frames_processed == 34 and control.frames_filled == 0


def test_a_frame_that_waited_past_the_budget_is_late() -> None:
    control, _ = controller(budget=0.5)
    assert not control.late(0.3) and control.late(0.45)  # 20 % of the budget is kept back
    keep_up, _ = controller(budget=None)
    assert not keep_up.late(10.0)  # without a latency target no frame is late


def test_a_change_of_motion_asks_for_a_profile_and_drops_the_old_scores() -> None:
    control, _ = controller()
    assert control.wants_refresh(0.0) == "the first profile"
    control.profiled(profile({}, at=0.0, motion=0.001))  # an empty scene
    assert control.choose(2.0) == HALF_FPS
    for i in range(25, 35):  # the scene stays still
        control.motion(i / FPS, 0.0012)
    assert control.wants_refresh(3.5) is None
    for i in range(35, 45):  # cars drive in
        control.motion(i / FPS, 0.02)
    reason = control.wants_refresh(4.5)
    assert reason is not None and "motion" in reason
    assert control.choose(4.5) == EVERY  # until the new profile: the most it can afford
    assert "the scene changed" in control.switches[-1].reason
    control.emitted(4.6, rows=2, processed=2, late=0, latency_s=0.01, backlog_frames=0)
    assert control.pending() and control.estimated_accuracy() is None  # not known yet
    assert "waits for a profile" in control.summary()
    control.profiled(profile({}, at=4.5, motion=0.02))
    assert not control.pending() and control.estimated_accuracy() == 1.0
    assert control.choose(7.0) == HALF_FPS
    assert control.wants_refresh(20.0) == "10 s since the last profile"


def test_the_estimated_accuracy_pools_the_rows_at_the_lower_score_around_them() -> None:
    control, _ = controller(cost=0.1)  # every frame at native resolution is not affordable
    control.profiled(profile({}, motion=0.001))
    assert control.choose(0.0) == HALF_FPS  # everything affordable is exact: the cheapest
    control.emitted(0.0, rows=10, processed=1, late=0, latency_s=0.01, backlog_frames=0)
    assert control.estimated_accuracy() == 1.0
    control.profiled(profile({o: 0.6 for o in live_options(FPS) if o != EVERY}))
    # the scene changed somewhere in those 10 rows: they score as the new clip says
    assert control.estimated_accuracy() == pytest.approx(0.6)
    assert control.choose(1.0) == HALF_FPS  # the best affordable scores 0.6: the cheapest
    control.emitted(0.0, rows=20, processed=2, late=0, latency_s=0.01, backlog_frames=0)
    assert control.estimated_accuracy() == pytest.approx(0.6)
    assert control.frames_filled == 9 + 18


def test_an_f1_estimate_counts_what_there_was_to_find() -> None:
    ts = np.arange(20) / FPS
    empty = {s: pa.table({"seen": [False] * 20}) for s in (1.0, 0.5)}
    seen = [i % 4 == 1 for i in range(20)]  # a blink every fourth frame
    busy = {s: pa.table({"seen": seen}) for s in (1.0, 0.5)}
    control, _ = controller(cost=0.1)
    control.profiled(clip_scores(ts, empty, live_options(FPS)))
    control.emitted(0.0, rows=100, processed=5, late=0, latency_s=0.01, backlog_frames=0)
    control.profiled(clip_scores(ts + 10, busy, live_options(FPS)))  # 0.5 FPS misses them all
    control.emitted(0.0, rows=10, processed=1, late=0, latency_s=0.01, backlog_frames=0)
    # 100 empty rows have nothing to find and do not dilute the 10 that missed everything
    assert control.estimated_accuracy() == 0.0


def test_cameras_of_one_process_share_its_cores() -> None:
    machine = SharedMachine(cores=1)  # 0.8 s of work a second in all
    first, _ = controller(cost=0.07)  # every frame: 0.7 of each second
    second, _ = controller(cost=0.07)
    with machine.running(first):
        assert first.current == EVERY  # alone, it may take every frame
        with machine.running(second):
            # 0.1 left: 5 FPS at half size (0.0875), not every frame at half size (0.175)
            assert second.current == LiveOption(5.0, 0.5)
            assert machine.left_for(first) == pytest.approx(0.8 - 0.0875)
        assert second.machine is None
    assert machine.left_for(second) == pytest.approx(0.8)


def test_a_change_over_before_the_controller_looks_is_still_a_change() -> None:
    control, _ = controller()
    control.profiled(profile({}, at=0.0, motion=0.001))
    for i in range(25, 60):  # someone walks through from 2.5 s to 4 s, then all is still
        control.motion(i / FPS, 0.02 if i < 40 else 0.001)
    reason = control.wants_refresh(6.0)  # a refresh was under way until now, say
    assert reason is not None and "0.0010 to 0.0" in reason


def test_a_profile_that_comes_late_does_not_vouch_for_a_scene_that_changed_meanwhile() -> None:
    control, _ = controller()
    for i in range(0, 120):  # still, someone walks in from 6 s to 8 s, then stands still
        control.motion(i / FPS, 0.02 if 60 <= i < 80 else 0.0003)
        if i % 10 == 9:
            control.emitted(i / FPS, rows=10, processed=1, late=0, latency_s=0.01,
                            backlog_frames=0)
    control.profiled(profile({}, at=0.0, motion=0.0003))  # the clip of 0-2 s, scored at 12 s
    assert control.wants_refresh(12.0) is not None  # the walk after the clip is a change
    assert control.pending() and control.estimated_accuracy() is None
