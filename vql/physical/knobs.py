"""The lossy knobs of a video pipeline and how a configuration of them rewrites its plan.

Knobs (used only when a query states a target):

* ``fps``: frames per second of video that are processed; the others are filled from the
  nearest processed frame (``Sample(fill=True)`` ... ``Fill``), so the result keeps every row;
* ``scale``: decode resolution, a fraction of the native width and height (boxes that
  functions return are mapped back to native pixels).

The reference configuration (every frame, native resolution) is ``Config()``. A user's
``SAMPLE n FPS`` fixes the sampling knob: then only the resolution varies.
"""

from __future__ import annotations

from dataclasses import dataclass

from vql.plan.nodes import (
    ApplyUDF,
    Decode,
    Fill,
    Filter,
    Limit,
    PlanNode,
    Project,
    Relational,
    Sample,
    VideoScan,
    chain,
    rebuild,
)

# Rates tried, frames per second of video (those below the video's own rate are used).
RATES: tuple[float, ...] = (5.0, 2.0, 1.0, 0.5, 0.25, 0.1)
SCALES: tuple[float, ...] = (1.0, 0.5, 0.25)


@dataclass(frozen=True, slots=True)
class Config:
    fps: float | None = None   # None: every frame
    scale: float = 1.0

    @property
    def is_reference(self) -> bool:
        return self.fps is None and self.scale == 1

    def describe(self) -> str:
        rate = "every frame" if self.fps is None else f"{self.fps:g} FPS + fill"
        size = "native resolution" if self.scale == 1 else f"{self.scale:g}x resolution"
        return f"{rate}, {size}"


def tunable(plan: Relational) -> str | None:
    """Why the plan's knobs cannot be tuned, or None when they can."""
    if len(plan.inputs) != 1:
        return "lossy knobs are tuned for queries over one video table reference"
    nodes = chain(plan.inputs[0])
    project = nodes[-1]
    if isinstance(project, Project) and project.encode_frame:
        return "the query selects the frame itself, so every frame is decoded"
    if not any(isinstance(n, ApplyUDF) for n in nodes):
        return "the query calls no frame function"
    return None


def user_sample(pipeline: PlanNode) -> float | None:
    found = [n.fps for n in chain(pipeline) if isinstance(n, Sample) and not n.fill]
    return found[0] if found else None


def candidates(pipeline: PlanNode, video_fps: float) -> list[Config]:
    """Every configuration worth considering for ``pipeline``, the reference first."""
    fixed = user_sample(pipeline) is not None
    rates: list[float | None] = [None]
    if not fixed:
        rates += [r for r in RATES if r < video_fps * 0.75]
    return [Config(fps, scale) for fps in rates for scale in SCALES]


def apply(plan: Relational, config: Config, controlled: bool = False) -> Relational:
    """The plan with ``config`` applied to its (single) pipeline."""
    if config.is_reference and not controlled:
        return plan
    return plan.replace(inputs=(configure(plan.inputs[0], config, controlled),))


def configure(pipeline: PlanNode, config: Config, controlled: bool = False) -> PlanNode:
    """Rewrite a pipeline for ``config``: decode at its scale; with a rate, sample below the
    decoder and fill after the last function, moving filters on function columns above it."""
    nodes = chain(pipeline)
    udfs = [n for n in nodes if isinstance(n, ApplyUDF)]
    columns = {u.call.column for u in udfs}
    decode_at = next(i for i, n in enumerate(nodes) if isinstance(n, Decode))
    base = nodes[:decode_at]
    late = [n for n in nodes[decode_at:] if isinstance(n, Filter) and n.columns & columns]
    tail = [n for n in nodes[decode_at:] if isinstance(n, Limit | Project)]
    decode = Decode(nodes[decode_at].children()[0], config.scale)
    if config.fps is None:
        rest = [n for n in nodes[decode_at + 1:] if not isinstance(n, Limit | Project)]
        return rebuild([*base, decode, *rest, *tail])
    scan = nodes[0]
    assert isinstance(scan, VideoScan)
    early = [n for n in nodes[decode_at:] if isinstance(n, Filter) and n not in late]
    sample = Sample(scan, config.fps, fill=True)
    fill = Fill(scan, tuple(u.call.column for u in udfs), controlled)
    return rebuild([*base, *early, sample, decode, *udfs, fill, *late, *tail])
