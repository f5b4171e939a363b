"""A timeline plot (PNG) of a query's per-frame values over time."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from vql.errors import MissingDependencyError, ProgrammingError
from vql.render.clip import Rendered
from vql.render.draw import PLACE_COLUMNS

PLOTTED_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)


def plotted_columns(schema: pa.Schema) -> list[str]:
    """The columns a timeline draws: numbers and booleans, not the frame's place."""
    return [f.name for f in schema if f.name not in (*PLACE_COLUMNS, "computed")
            and any(test(f.type) for test in PLOTTED_TYPES)]


def render_timeline(table: pa.Table, out: str | Path, *, width: int = 1200,
                    row_height: int = 220, dpi: int = 100) -> Rendered:
    """One panel per number or boolean column of ``table`` against time (``ts``, else
    ``frame_id``), one line per video. When the result has ``computed`` (a lossy plan's
    rows), processed frames are dots and filled ones grey crosses. ``width`` and the height
    (``row_height`` per panel, plus room for the title) are in pixels."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - matplotlib comes with ultralytics
        raise MissingDependencyError("timelines need matplotlib: pip install matplotlib") \
            from error
    x_name = "ts" if "ts" in table.column_names else "frame_id"
    if x_name not in table.column_names:
        raise ProgrammingError("a timeline needs the column ts or frame_id in the result")
    series = plotted_columns(table.schema)
    if not series:
        raise ProgrammingError("a timeline needs at least one number or boolean column")
    if table.num_rows == 0:
        raise ProgrammingError("the query returned no rows: there is nothing to plot")
    videos = table.column("path").unique().to_pylist() if "path" in table.column_names \
        else [None]
    height = row_height * len(series) + 80
    figure, axes = plt.subplots(len(series), 1, sharex=True, squeeze=False,
                                figsize=(width / dpi, height / dpi), dpi=dpi)
    filled_rows = 0
    for axis, name in zip(axes[:, 0], series, strict=True):
        for video in videos:
            part = table if video is None else table.filter(pc.equal(table.column("path"), video))
            x = part.column(x_name).to_numpy(zero_copy_only=False)
            y = part.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
            label = None if video is None else Path(str(video)).name
            step = pa.types.is_boolean(table.schema.field(name).type)
            line = axis.step(x, y, where="post", label=label) if step else \
                axis.plot(x, y, label=label)
            colour = line[0].get_color()
            if "computed" in part.column_names:
                computed = part.column("computed").fill_null(True).to_numpy(zero_copy_only=False)
                filled_rows += int((~computed).sum()) if name == series[0] else 0
                axis.plot(x[computed], y[computed], "o", color=colour, markersize=3)
                axis.plot(x[~computed], y[~computed], "x", color="0.6", markersize=3)
        axis.set_ylabel(name)
        axis.grid(True, alpha=0.3)
        if len(videos) > 1:
            axis.legend(loc="upper right", fontsize="small")
    axes[-1, 0].set_xlabel("time (s)" if x_name == "ts" else "frame")
    title = f"{', '.join(series)} over {'time' if x_name == 'ts' else 'frames'}"
    if "computed" in table.column_names:
        title += f"  (dots: processed frames; grey crosses: {filled_rows} filled from the " \
                 "nearest processed frame)"
    figure.suptitle(title, fontsize="medium")
    figure.savefig(str(out), dpi=dpi)
    plt.close(figure)
    return Rendered(str(out), table.num_rows)



