"""A live pipeline under a target: the frames processed, their resolution and the content's
profile, all chosen while the stream runs (``vql.exec.adapt`` decides; this operator acts).

``LiveFillOp`` stands where ``FillOp`` stands in an archive's lossy plan. Of each batch that
arrives it processes the frames due at the controller's rate (not those that waited longer
than the budget), scaled to its resolution, through its section (the functions, fed by
``feed``), and emits every row at once: a processed frame's row with its values and
``computed`` true, any other with the values of the last processed frame before it (never of
a frame to come: that would hold the row back). After each batch the controller re-picks the
option; when it asks for a refresh, the next ``CLIP_S`` seconds of frames are also kept and
run at the reference settings and each other resolution, a few frames after each batch, and
the options are scored on them.
"""

from __future__ import annotations

import math
import time
import typing as t
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from vql.exec.adapt import (
    CLIP_FRAMES,
    CLIP_S,
    MACHINE,
    SHARE,
    LiveController,
    clip_scores,
    due,
    held,
)
from vql.exec.context import ExecContext
from vql.exec.live import LiveScanOp, live_scans, scaled
from vql.exec.operators import SectionOp, thumbnails_of
from vql.exec.profile import walk

CHUNK = 4  # clip frames run per step of a refresh


@dataclass
class _Refresh:
    """A clip being kept and profiled."""

    reason: str
    wanted: int                                   # frames to keep
    rows: list[pa.RecordBatch] = field(default_factory=list)
    kept: int = 0
    motion: list[float] = field(default_factory=list)  # of the kept frames
    exact: list[pa.Table] | None = field(default_factory=list)  # their values, when the
    # rows were processed at the reference settings anyway (None once one was not)
    work: list[tuple[float, int]] = field(default_factory=list)  # (scale, first row) chunks
    outputs: dict[float, list[pa.Table]] = field(default_factory=dict)

    @property
    def capturing(self) -> bool:
        return self.kept < self.wanted


@dataclass
class _State:
    next_due: float = -math.inf
    carry: pa.Table | None = None        # the last processed frame's values (one row)
    thumb: np.ndarray | None = None      # the last frame's thumbnail (for the motion)
    started: float = field(default_factory=time.perf_counter)
    refresh_spent_s: float = 0.0
    refresh: _Refresh | None = None


@dataclass
class LiveFillOp(SectionOp):
    """Processes the frames the live controller picks; fills the others from the last
    processed frame; profiles the content now and then (see the module's docstring)."""

    columns: tuple[str, ...] = ()
    controller: LiveController | None = None

    @property
    def added(self) -> tuple[str, ...]:
        """The function columns it fills in, ``columns``."""
        return self.columns

    @property
    def adapter(self) -> LiveController:
        """Its controller (always set by the planner)."""
        assert self.controller is not None
        return self.controller

    def describe(self) -> str:
        """The target, the options it picks from, and how the content is profiled."""
        control = self.adapter
        target = "keep up" if control.budget_s is None else \
            f"each row within {control.budget_s * 1000:g} ms of its frame's arrival"
        return (f"Adapt ({target}): rate and resolution re-picked after each batch from "
                f"{len(control.options)} options; {', '.join(self.columns)} filled from the "
                f"last processed frame; the content profiled on {CLIP_S:g} s clips at the "
                f"reference settings every {control.refresh_s:g} s of stream or on a change")

    def batches(self, ctx: ExecContext) -> Iterator[pa.RecordBatch]:
        """Every row of the child as it arrives, the function columns computed or filled."""
        scans = live_scans(self.child)
        scan = scans[0] if scans else None
        state = _State()
        with self.running(ctx) as section, MACHINE.running(self.adapter):
            blank = scan.blank() if scan is not None else None
            if blank is not None:  # load the model before the stream connects (at its
                self._process(blank, 1.0, section)  # first frame it would hold rows back)
            for batch in self.child.batches(ctx):
                if batch.num_rows == 0:
                    continue
                yield self._adapted(batch, section, scan, ctx, state)
                self._profile(batch, section, state)

    # --- the stream's rows -------------------------------------------------------------------

    def _adapted(self, batch: pa.RecordBatch, section: Generator[pa.RecordBatch, None, None],
                 scan: LiveScanOp | None, ctx: ExecContext, state: _State) -> pa.RecordBatch:
        control = self.adapter
        option = control.current
        ts = batch.column("ts").to_numpy()
        keep, state.next_due = due(ts, option.fps, state.next_due)
        now = time.time()
        arrived = np.array([a if (a := _arrival(scan, f)) is not None else now
                            for f in batch.column("frame_id").to_pylist()])
        late = keep & np.array([control.late(now - a) for a in arrived])
        if state.carry is None:  # the first frame is processed, however late: rows need it
            keep[0], late[0] = True, False
        keep &= ~late
        motion = self._motion(batch, ts, state)
        values = self._process(batch.filter(pa.array(keep)), option.scale, section) \
            if keep.any() else None
        if state.refresh is not None and state.refresh.capturing:
            exact = values if option.is_reference and keep.all() else None
            self._keep(batch, motion, exact, state.refresh)
        table = values if state.carry is None else \
            state.carry if values is None else pa.concat_tables([state.carry, values])
        assert table is not None
        # index into ``table``: the carry (if any) is row 0, this batch's processed rows follow
        offset = 0 if state.carry is None else 1
        rows = held(keep)
        index = np.where(rows >= 0, np.cumsum(keep)[np.maximum(rows, 0)] - 1 + offset, 0)
        state.carry = table.slice(table.num_rows - 1)
        out = batch.set_column(batch.schema.get_field_index("computed"), "computed",
                               pa.array(keep))
        taken = table.take(pa.array(index))
        for name in self.columns:
            out = out.append_column(taken.schema.field(name), taken.column(name).combine_chunks())
        processed = int(keep.sum())
        ctx.stats.rows_filled += batch.num_rows - processed
        waiting = scan.source.waiting() if scan is not None and scan.source is not None else 0
        control.emitted(float(ts[-1]), batch.num_rows, processed, int(late.sum()),
                        time.time() - float(arrived.min()), waiting)
        control.choose(float(ts[-1]))
        return out

    def _process(self, rows: pa.RecordBatch, scale: float,
                 section: Generator[pa.RecordBatch, None, None]) -> pa.Table:
        """The function columns of ``rows`` at ``scale`` (timed for the controller)."""
        started = time.perf_counter()
        self.feed.push(rows if scale == 1 else scaled(rows, scale))
        out = next(section)
        self.adapter.measured(scale, rows.num_rows, time.perf_counter() - started)
        return pa.Table.from_batches([out]).select(list(self.columns))

    def _motion(self, batch: pa.RecordBatch, ts: np.ndarray, state: _State) -> list[float]:
        """Each frame's change from the one before (thumbnails' mean grey level), told to the
        controller: the content signal that does not depend on the knobs."""
        levels = []
        for stamp, thumb in zip(ts, thumbnails_of(batch)):
            level = 0.0 if state.thumb is None else float(np.abs(thumb - state.thumb).mean())
            state.thumb = thumb
            levels.append(level)
            self.adapter.motion(float(stamp), level)
        return levels

    # --- the content's profile ---------------------------------------------------------------

    def _keep(self, batch: pa.RecordBatch, motion: list[float], exact: pa.Table | None,
              refresh: _Refresh) -> None:
        """Keep the clip's frames; ``exact``: their values at the reference settings, when
        the batch was processed so (the clip's reference run is then done already)."""
        if refresh.rows and batch.schema != refresh.rows[0].schema:  # the stream's size
            refresh.rows, refresh.motion, refresh.kept = [], [], 0  # changed: start again
            refresh.exact = []
        take = min(refresh.wanted - refresh.kept, batch.num_rows)
        refresh.rows.append(batch.slice(0, take))
        refresh.motion += motion[:take]
        refresh.kept += take
        if refresh.exact is not None:
            refresh.exact = None if exact is None else [*refresh.exact, exact.slice(0, take)]
        if refresh.capturing:
            return
        scales = sorted({o.scale for o in self.adapter.options} | {1.0}, reverse=True)
        if refresh.exact is not None:
            refresh.outputs[1.0] = refresh.exact
            scales.remove(1.0)
        for scale in scales:
            refresh.work += [(scale, first) for first in range(0, refresh.kept, CHUNK)]

    def _profile(self, batch: pa.RecordBatch, section: Generator[pa.RecordBatch, None, None],
                 state: _State) -> None:
        """Start a refresh when the controller asks; run some of a kept clip within SHARE of
        the pipeline's time; when all of it ran, score the options on it."""
        control = self.adapter
        if state.refresh is None:
            reason = control.wants_refresh(float(batch.column("ts")[-1].as_py()))
            if reason is not None:
                fps = control.stream_fps or 10.0
                state.refresh = _Refresh(reason, max(2, min(CLIP_FRAMES, round(CLIP_S * fps))))
            return
        refresh = state.refresh
        if refresh.capturing:
            return
        clip = pa.Table.from_batches(refresh.rows)
        # one chunk after a batch at most: the frames behind it wait for no more than that
        if refresh.work and state.refresh_spent_s <= SHARE * (
                time.perf_counter() - state.started):
            scale, first = refresh.work.pop(0)
            rows = clip.slice(first, CHUNK).combine_chunks().to_batches()[0]
            started = time.perf_counter()
            refresh.outputs.setdefault(scale, []).append(self._process(rows, scale, section))
            state.refresh_spent_s += time.perf_counter() - started
        if refresh.work:
            return
        outputs = {scale: pa.concat_tables(parts).combine_chunks()
                   for scale, parts in refresh.outputs.items()}
        motion = refresh.motion[1:] or [0.0]  # the first is measured against the frame before
        profile = clip_scores(clip.column("ts").to_numpy(), outputs, control.options,
                              sum(motion) / len(motion))
        control.profiled(profile)
        control.choose(float(batch.column("ts")[-1].as_py()),
                       f"profiled ({refresh.reason}): " + ", ".join(
                           f"{o.describe()} {s:.2f}" for o, s in profile.scores.items()))
        state.refresh = None


def _arrival(scan: LiveScanOp | None, frame_id: int) -> float | None:
    return None if scan is None else scan.arrived(frame_id)


def adapters(op: t.Any) -> dict[str, LiveController]:
    """The live controllers under a physical operator, by the live table each adapts."""
    found = {}
    for node in walk(op):
        if isinstance(node, LiveFillOp) and node.controller is not None:
            for scan in live_scans(node.child):
                found[scan.table] = node.controller
    return found
