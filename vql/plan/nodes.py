"""Logical plan nodes: immutable, with declared fields; equality and hashing from dataclasses.

A query's plan is a ``Relational`` root (the SQL that DuckDB runs over the video streams) whose
inputs are video pipelines, one per video table reference. A pipeline is a chain, bottom-up:

    VideoScan -> [Sample] -> [Decode] -> ApplyUDF* / Filter* -> [Fill] -> [Limit] -> Project

The binder builds the reference order (every UDF, then every filter); optimizer rules build new
nodes with ``replace``; nothing holds a parent pointer.
"""

from __future__ import annotations

import dataclasses
import math
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from vql.catalog import Profile

Self = t.TypeVar("Self", bound="PlanNode")


@dataclass(frozen=True, slots=True)
class PlanNode:
    """A logical plan node; its children are the fields that hold nodes."""

    def children(self) -> tuple[PlanNode, ...]:
        """The nodes among its fields (alone or in a tuple), in field order."""
        found: list[PlanNode] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, PlanNode):
                found.append(value)
            elif isinstance(value, tuple):
                found.extend(v for v in value if isinstance(v, PlanNode))
        return tuple(found)

    def replace(self: Self, **changes: t.Any) -> Self:
        """A copy with ``changes`` to its fields (nodes are immutable)."""
        return dataclasses.replace(self, **changes)

    def walk(self) -> Iterator[PlanNode]:
        """Pre-order: this node, then its children's subtrees."""
        yield self
        for child in self.children():
            yield from child.walk()

    def label(self) -> str:
        """What the node does, in one line for EXPLAIN."""
        return type(self).__name__


def given(constants: tuple[t.Any, ...]) -> tuple[t.Any, ...]:
    """The constant arguments without the optional ones left NULL at the end."""
    kept = list(constants)
    while kept and kept[-1] is None:
        kept.pop()
    return tuple(kept)


def variant_of(constants: tuple[t.Any, ...]) -> str:
    """A function's constant arguments as its measured costs are filed under (adding an
    optional argument to a function keeps the costs measured)."""
    return repr(given(constants))


def profiles_of(profiles: t.Iterable[Profile], function: str, constants: tuple[t.Any, ...],
                device: str | None = None, resolution: str | None = None) -> list[Profile]:
    """The measured costs of ``function`` called with ``constants`` (on ``device``, at
    ``resolution``, where given): the one place costs are matched to a call."""
    variant = variant_of(constants)
    return [p for p in profiles if p.operator == function and p.variant == variant
            and (device is None or p.device == device)
            and (resolution is None or p.resolution == resolution)]


@dataclass(frozen=True, slots=True)
class UDFCall:
    """One frame-function call with bound constants, computed into ``column``."""

    function: str
    constants: tuple[t.Any, ...]
    column: str
    stateful: bool = False
    cost_ms: float = 1.0
    cost_source: str = "declared"  # or "measured" (ANALYZE)
    version: str | None = None     # the function's version when its results may be cached
    device: str = "cpu"            # where it computes (the optimizer's choice)
    # Computed only on rows where this predicate (DuckDB SQL over the stream's columns) holds,
    # NULL elsewhere: a call inside a CASE branch (vql/bind/guards.py)
    when: str | None = None
    needs: frozenset[str] = frozenset()  # the function columns ``when`` reads

    def cache_key(self) -> str:
        """What its cached results are filed under (with the video's content and scale).
        Devices agree within a tolerance, not bit for bit, so each keeps its own values."""
        where = "" if self.device == "cpu" else f" on {self.device}"
        return f"{self.function}{self.constants!r} @ {self.version}{where}"

    def text(self) -> str:
        """The call as SQL; optional arguments left NULL at the end are not shown."""
        args = ", ".join(["frame", *("NULL" if c is None else repr(c)
                                     for c in given(self.constants))])
        return f"{self.function}({args})"


@dataclass(frozen=True, slots=True)
class VideoScan(PlanNode):
    """The frames of a video table: metadata from the catalog, no pixels."""

    table: str
    alias: str
    videos: int
    frames: int
    duration: float = 0.0  # seconds of video, summed over the table
    live: str | None = None  # the stream's URL, for a live table (no videos, no frame count)
    watch: str | None = None  # the glob a WATCH table follows

    def label(self) -> str:
        if self.live is not None:
            return f"VideoScan {self.table} AS {self.alias} (live: {self.live})"
        if self.watch is not None:
            return (f"VideoScan {self.table} AS {self.alias} ({self.videos} videos, then "
                    f"segments of {self.watch} as they are finished)")
        return f"VideoScan {self.table} AS {self.alias} ({self.videos} videos, {self.frames} frames)"


@dataclass(frozen=True, slots=True)
class Sample(PlanNode):
    """Keep the first frame at or after each 1/fps tick of presentation time, per video.

    ``fill``: a lossy plan's sampling (the optimizer's knob, not the user's SAMPLE clause): the
    skipped rows come back at the ``Fill`` above, so the result keeps every frame's row."""

    child: PlanNode
    fps: float
    fill: bool = False

    def label(self) -> str:
        rate = "every frame" if math.isinf(self.fps) else f"{self.fps:g} FPS"
        return f"Sample {rate}" + (" (skipped rows are filled above)" if self.fill else "")


@dataclass(frozen=True, slots=True)
class Decode(PlanNode):
    """Materialise the pixels of each frame (RGB), at ``scale`` times the native width and
    height (1: native; a lossy plan's resolution knob)."""

    child: PlanNode
    scale: float = 1.0

    def label(self) -> str:
        return "Decode frame" + (f" at {self.scale:g}x resolution" if self.scale != 1 else "")


@dataclass(frozen=True, slots=True)
class DiffGate(PlanNode):
    """A cascade's cheap first stage (NoScope's difference detector): a frame whose thumbnail
    differs from the last frame let through by less than ``threshold`` (mean absolute grey
    level, 0..1) skips the functions above; the ``Fill`` gives it the values of the nearest
    processed frame. ``pass_rate`` is the share of frames expected through (profiled)."""

    child: PlanNode
    threshold: float
    pass_rate: float = 1.0

    def label(self) -> str:
        return (f"DiffGate skip frames within {self.threshold:.1%} of the last processed one "
                f"(expected pass rate {self.pass_rate:.0%})")


@dataclass(frozen=True, slots=True)
class ApplyUDF(PlanNode):
    """Compute one frame-function call into a new column (``call.column``) of each row."""

    child: PlanNode
    call: UDFCall

    def label(self) -> str:
        state = ", stateful" if self.call.stateful else ""
        where = "" if self.call.device == "cpu" else f" on {self.call.device}"
        only = "" if self.call.when is None else f" only where {self.call.when}"
        return (f"ApplyUDF {self.call.text()}{where} -> {self.call.column}{only} "
                f"[{self.call.cost_source} {self.call.cost_ms:.3g} ms/frame{state}]")


@dataclass(frozen=True, slots=True)
class Filter(PlanNode):
    """Keep rows where ``predicate`` (DuckDB SQL over the stream's columns, $n parameters) holds."""

    child: PlanNode
    predicate: str
    columns: frozenset[str]
    params: tuple[t.Any, ...] = ()

    def label(self) -> str:
        return f"Filter {self.predicate}"


@dataclass(frozen=True, slots=True)
class Fill(PlanNode):
    """Restores the rows a ``Sample(fill=True)`` below skipped: each takes the function columns
    of the nearest processed frame of its video (by timestamp), and ``computed`` is false.
    ``controlled``: a latency controller picks the sampling rate per invocation while the
    query runs (Llama); ``fps`` of the Sample below is where it starts."""

    child: PlanNode
    columns: tuple[str, ...]
    controlled: bool = False

    def label(self) -> str:
        how = ", rate adapted per invocation to meet the latency target" if self.controlled \
            else ""
        return f"Fill {', '.join(self.columns)} from the nearest processed frame{how}"


@dataclass(frozen=True, slots=True)
class Reuse(PlanNode):
    """Reads the values of the functions below it (down to their ``Decode``) from the result
    cache where it has them, decodes and computes only the other frames, and caches those.
    Lossless: the functions are deterministic and stateless, and keys include the video's
    content, the function's version and the decode resolution."""

    child: PlanNode
    columns: tuple[str, ...]

    def label(self) -> str:
        return f"Reuse cached {', '.join(self.columns)}; decode and compute only the frames missing"


@dataclass(frozen=True, slots=True)
class Limit(PlanNode):
    """Stop the pipeline after ``count`` rows."""

    child: PlanNode
    count: int

    def label(self) -> str:
        return f"Limit {self.count}"


@dataclass(frozen=True, slots=True)
class Project(PlanNode):
    """The pipeline's output columns, registered with DuckDB as the view ``view``."""

    child: PlanNode
    view: str
    columns: tuple[str, ...]
    encode_frame: bool = False

    def label(self) -> str:
        frame = " (frame as JPEG)" if self.encode_frame else ""
        return f"Project {', '.join(self.columns)} AS {self.view}{frame}"


@dataclass(frozen=True, slots=True)
class Relational(PlanNode):
    """The relational remainder: DuckDB SQL over the input views. ``rows_needed`` is how many
    pipeline rows are enough for the result (a plain LIMIT), or None when all may be needed."""

    sql: str
    params: tuple[t.Any, ...]
    inputs: tuple[PlanNode, ...]
    rows_needed: int | None = None

    def label(self) -> str:
        return f"DuckDB {self.sql}"


def chain(node: PlanNode) -> list[PlanNode]:
    """A pipeline's nodes bottom-up (scan first)."""
    nodes = [node]
    while nodes[-1].children():
        nodes.append(nodes[-1].children()[0])
    return nodes[::-1]


def thinned(nodes: t.Iterable[PlanNode]) -> bool:
    """Whether the functions of a pipeline (its ``chain``) see only some of the frames: a
    SAMPLE below the video's rate, or a difference cascade. A stateful function's values then
    differ from those it gives over every frame."""
    return any(isinstance(n, Sample) and not math.isinf(n.fps) or isinstance(n, DiffGate)
               for n in nodes)


def rebuild(nodes: list[PlanNode]) -> PlanNode:
    """Relink a bottom-up list of pipeline nodes into a chain; the first must be a leaf."""
    current = nodes[0]
    for node in nodes[1:]:
        current = node.replace(child=current)
    return current
