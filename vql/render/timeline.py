"""A timeline plot (PNG, SVG, PDF or JPEG) of a query's per-frame values over time.

Each number or boolean column gets a panel, drawn for what it is:

* a boolean is shaded bands, one lane per video: True in the video's colour, False in light
  grey, a missing value (NULL, or a gap in the rows) blank; a 0/1 line would zigzag between
  two values and hide how long each stretch lasts;
* an integer (a count) is a step line on whole-number ticks, from 0 when no value is
  negative: a count of 2.5 objects is never meant;
* any other number is a line.

A result of tracks (``track_id``, ``first_ts`` and ``last_ts``: what ``FROM tracks(...)``
gives) is a Gantt chart instead: one bar per track, from when it was first seen to when it was
last seen, in the track's colour (as its boxes in a clip), the earliest on top.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vql.errors import MissingDependencyError, ProgrammingError
from vql.render.clip import Rendered
from vql.render.draw import PLACE_COLUMNS, RGB, track_colour

PLOTTED_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
FALSE_COLOUR = "0.86"    # a False band
FILLED_COLOUR = "0.6"    # the cross of a frame a lossy plan filled
GAP_STEPS = 3            # a jump of more than this many usual steps between rows is a gap
# A result with these columns is drawn as a Gantt chart, one bar per row (a track).
TRACK_COLUMNS = ("track_id", "first_ts", "last_ts")
BAR_HEIGHT_PX = 26       # one track's lane
MAX_BARS = 500           # past this many tracks the rest are left out, and the answer says so


def plotted_columns(schema: pa.Schema) -> list[str]:
    """The columns a timeline draws: numbers and booleans, not the frame's place."""
    return [f.name for f in schema if f.name not in (*PLACE_COLUMNS, "computed")
            and any(test(f.type) for test in PLOTTED_TYPES)]


@dataclass(frozen=True, slots=True)
class Series:
    """One video's values of one column, in time order."""

    label: str | None      # the video's file name, None when the result has no path
    colour: str
    x: np.ndarray
    values: list[t.Any]    # None where NULL
    computed: np.ndarray | None  # False where a lossy plan filled the row


def render_timeline(table: pa.Table, out: str | Path, *, width: int = 1200,
                    row_height: int = 220, dpi: int = 100) -> Rendered:
    """One panel per number or boolean column of ``table`` against time (``ts``, else
    ``frame_id``), one line (or, for a boolean, one lane of bands) per video. When the result
    has ``computed`` (a lossy plan's rows), processed frames are dots and filled ones grey
    crosses. ``width`` and the height (``row_height`` per panel, plus room for the title)
    are in pixels. A result of tracks (``is_track_table``) is one bar per track instead."""
    if is_track_table(table.schema):
        return _render_gantt(table, out, width, dpi)
    plt = _pyplot()
    x_name = "ts" if "ts" in table.column_names else "frame_id"
    if x_name not in table.column_names:
        raise ProgrammingError("a timeline needs the column ts or frame_id in the result")
    names = plotted_columns(table.schema)
    if not names:
        raise ProgrammingError("a timeline needs at least one number or boolean column")
    if table.num_rows == 0:
        raise ProgrammingError("the query returned no rows: there is nothing to plot")
    figure, axes = plt.subplots(len(names), 1, sharex=True, squeeze=False,
                                figsize=(width / dpi, (row_height * len(names) + 80) / dpi),
                                dpi=dpi, layout="constrained")
    for axis, name in zip(axes[:, 0], names, strict=True):
        field = table.schema.field(name)
        series = _series(table, x_name, name)
        if pa.types.is_boolean(field.type):
            _draw_bands(axis, series)
        else:
            _draw_line(axis, series, integer=pa.types.is_integer(field.type))
        axis.set_ylabel(name)
    axes[-1, 0].set_xlabel("time (s)" if x_name == "ts" else "frame")
    figure.suptitle(_title(table, names, x_name), fontsize="medium")
    figure.savefig(str(out), dpi=dpi)
    plt.close(figure)
    return Rendered(str(out), table.num_rows, codec=Path(out).suffix.lower().lstrip("."))


def _pyplot() -> t.Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - matplotlib is a dependency
        raise MissingDependencyError("timelines need matplotlib: pip install matplotlib") \
            from error
    return plt


def _series(table: pa.Table, x_name: str, name: str) -> list[Series]:
    """The column's values, one ``Series`` per video (in the order the videos first appear)."""
    videos = table.column("path").unique().to_pylist() if "path" in table.column_names \
        else [None]
    out = []
    for index, video in enumerate(videos):
        part = table if video is None else table.filter(pc.equal(table.column("path"), video))
        x = part.column(x_name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        order = np.argsort(x, kind="stable")
        computed = None
        if "computed" in part.column_names:
            computed = part.column("computed").fill_null(True).to_numpy(
                zero_copy_only=False)[order]
        values = part.column(name).to_pylist()
        out.append(Series(None if video is None else Path(str(video)).name, f"C{index % 10}",
                          x[order], [values[i] for i in order], computed))
    return out


def _draw_line(axis: t.Any, series: list[Series], integer: bool) -> None:
    """Numbers as lines; an integer column as steps on whole-number ticks."""
    from matplotlib.ticker import MaxNLocator

    for one in series:
        y = np.array([np.nan if v is None else float(v) for v in one.values])
        axis.plot(one.x, y, color=one.colour, label=one.label,
                  drawstyle="steps-post" if integer else "default")
        _mark_computed(axis, one, y)
    if integer:
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        values = [v for one in series for v in one.values if v is not None]
        low, high = min(values, default=0), max(values, default=1)
        if low >= 0:  # a count: from 0, with room above the highest
            axis.set_ylim(-0.05 * max(high, 1), max(high, 1) * 1.1 + 0.2)
    axis.grid(True, alpha=0.3)
    if len(series) > 1:
        axis.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small",
                    frameon=False)


def _draw_bands(axis: t.Any, series: list[Series]) -> None:
    """Booleans as shaded stretches, one lane per video: True coloured, False grey."""
    from matplotlib.patches import Patch

    step = _usual_step([one.x for one in series])
    for lane, one in enumerate(reversed(series)):  # the first video on top
        for value, colour in ((True, one.colour), (False, FALSE_COLOUR)):
            spans = _runs(one.x, one.values, value, step)
            axis.broken_barh(spans, (lane + 0.1, 0.8), facecolors=colour, linewidth=0)
        _mark_computed(axis, one, np.full(len(one.x), lane + 0.5))
    axis.set_ylim(0, len(series))
    if len(series) > 1:
        axis.set_yticks([lane + 0.5 for lane in range(len(series))],
                        [one.label or "" for one in reversed(series)], fontsize="small")
    else:
        axis.set_yticks([])
    axis.grid(True, axis="x", alpha=0.3)
    handles = [Patch(color=one.colour, label="True" if len(series) == 1 else f"True: {one.label}")
               for one in series] + [Patch(color=FALSE_COLOUR, label="False")]
    # beside the lanes, not on them
    axis.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0),
                fontsize="small", frameon=False)


def _usual_step(xs: list[np.ndarray]) -> float:
    """The median step between consecutive rows (1 when no video has two rows)."""
    steps = np.concatenate([np.diff(x) for x in xs])
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 1.0


def _runs(x: np.ndarray, values: list[t.Any], wanted: bool,
          step: float) -> list[tuple[float, float]]:
    """(start, width) of each stretch where the value is ``wanted``: a row holds until the
    next row, or for one usual step when the next is more than ``GAP_STEPS`` steps away."""
    spans: list[list[float]] = []  # [start, end]
    for i, value in enumerate(values):
        if value is None or bool(value) != wanted:
            continue
        following = x[i + 1] if i + 1 < len(x) else x[i] + step
        end = float(following if following - x[i] <= GAP_STEPS * step else x[i] + step)
        if spans and spans[-1][1] == x[i]:
            spans[-1][1] = end  # continues the stretch before
        else:
            spans.append([float(x[i]), end])
    return [(start, end - start) for start, end in spans]


def _mark_computed(axis: t.Any, one: Series, y: np.ndarray) -> None:
    """Dots on the frames a lossy plan processed, grey crosses on those it filled."""
    if one.computed is None:
        return
    done = one.computed
    axis.plot(one.x[done], y[done], "o", color=one.colour, markersize=3)
    axis.plot(one.x[~done], y[~done], "x", color=FILLED_COLOUR, markersize=3)


def _title(table: pa.Table, names: list[str], x_name: str) -> str:
    title = f"{', '.join(names)} over {'time' if x_name == 'ts' else 'frames'}"
    if "computed" in table.column_names:
        filled = int(pc.sum(pc.invert(table.column("computed").fill_null(True))).as_py() or 0)
        title += f"  (dots: processed frames; grey crosses: {filled} filled from the " \
                 "nearest processed frame)"
    return title


# --- tracks: a Gantt chart ------------------------------------------------------------------

def is_track_table(schema: pa.Schema) -> bool:
    """Whether a result is drawn as one bar per row (a track): it has ``track_id``, and
    ``first_ts`` and ``last_ts`` are numbers (seconds)."""
    names = schema.names
    return all(name in names for name in TRACK_COLUMNS) and all(
        pa.types.is_integer(schema.field(name).type) or pa.types.is_floating(
            schema.field(name).type) for name in TRACK_COLUMNS[1:])


@dataclass(frozen=True, slots=True)
class Bar:
    """One track's bar in a Gantt chart: when it was first and last seen, its name and colour."""

    label: str         # '#3 person', with its video ('video 2 #3 person') when there are several
    start: float       # first_ts, seconds
    end: float         # last_ts
    colour: RGB        # the track's colour, as in a clip


def track_bars(table: pa.Table) -> list[Bar]:
    """The bars of a result of tracks, earliest first (then by video and id); a row without
    ``first_ts`` or ``last_ts`` has no bar."""
    rows = [row for row in table.select(
        [c for c in table.column_names if c in (*TRACK_COLUMNS, "label", "video_id")]
    ).to_pylist() if row["first_ts"] is not None and row["last_ts"] is not None]
    videos = {row.get("video_id") for row in rows}
    rows.sort(key=lambda r: (r["first_ts"], str(r.get("video_id")), str(r["track_id"]).zfill(20)))
    return [Bar(_bar_label(row, len(videos) > 1), float(row["first_ts"]),
                float(row["last_ts"]), track_colour(row["track_id"])) for row in rows]


def _bar_label(row: dict[str, t.Any], several_videos: bool) -> str:
    """'#3 person': the track id, its label when the result has one, its video when several."""
    parts = [f"video {row.get('video_id')}"] if several_videos else []
    parts.append(f"#{row['track_id']}")
    if row.get("label") is not None:
        parts.append(str(row["label"]))
    return " ".join(parts)


def _render_gantt(table: pa.Table, out: str | Path, width: int, dpi: int) -> Rendered:
    """One bar per track from ``first_ts`` to ``last_ts``, earliest on top (see ``track_bars``)."""
    bars = track_bars(table)
    if not bars:
        raise ProgrammingError("the query returned no tracks with first_ts and last_ts: "
                               "there is nothing to plot")
    shown = bars[:MAX_BARS]
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(width / dpi, (BAR_HEIGHT_PX * len(shown) + 110) / dpi),
                                dpi=dpi, layout="constrained")
    _draw_bars(axis, shown)
    axis.set_xlabel("time (s)")
    more = f" (the first {len(shown)} of {len(bars)})" if len(bars) > len(shown) else ""
    figure.suptitle(f"{len(bars)} tracks{more}: each from first seen to last seen",
                    fontsize="medium")
    figure.savefig(str(out), dpi=dpi)
    plt.close(figure)
    return Rendered(str(out), len(shown), len(bars) - len(shown),
                    codec=Path(out).suffix.lower().lstrip("."))


def _draw_bars(axis: t.Any, bars: list[Bar]) -> None:
    """The bars, one lane each, with each one's duration just after its end."""
    low, high = min(b.start for b in bars), max(b.end for b in bars)
    span = max(high - low, 1.0)
    for lane, bar in enumerate(bars):
        # a track seen in one frame still shows, as a sliver
        axis.barh(lane, max(bar.end - bar.start, span * 0.003), left=bar.start, height=0.7,
                  color=[c / 255 for c in bar.colour], linewidth=0)
        axis.text(bar.end + span * 0.006, lane, f"{bar.end - bar.start:.1f} s", va="center",
                  fontsize="x-small", color="0.3")
    axis.set_yticks(range(len(bars)), [bar.label for bar in bars], fontsize="small")
    axis.set_ylim(len(bars) - 0.5, -0.5)  # the first seen on top
    axis.set_xlim(low - span * 0.02, high + span * 0.08)  # room for the durations
    axis.grid(True, axis="x", alpha=0.3)
