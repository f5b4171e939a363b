"""Geometry of object tracks in SQL: points in polygons and paths across lines (issue 15).

Four DuckDB scalar functions, vectorised over Arrow arrays (one call per chunk of rows):

* ``inside(x, y, polygon)``: the point is inside the polygon or on its boundary.
* ``crossings(path, x1, y1, x2, y2)``: the net number of times a path crosses a directed segment.
* ``dwell(path, polygon)``: the seconds a path spends inside a polygon.
* ``entered(path, polygon)``: the time of the first point of a path inside a polygon.

Coordinates are frame pixels with y pointing down, as in images. A ``path`` is a list of
``STRUCT(ts DOUBLE, x DOUBLE, y DOUBLE)`` points in time order (a track's bottom-centre points);
a ``polygon`` is a list of ``[x, y]`` pairs (``[[0,0],[400,0],[400,432],[0,432]]``): DuckDB casts
the INTEGER, DECIMAL and DOUBLE lists that SQL literals and columns give to ``DOUBLE[][]``. The ring
closes itself (repeating the first point at the end is allowed); a self-crossing polygon counts
by the even-odd rule. NULL in any argument gives NULL. A polygon of fewer than 3 points, a polygon
point that is not a pair, a NULL inside a path or polygon, a zero-length segment or (for ``dwell``)
a path going back in time raises ``ValueError`` naming the function, which DuckDB reports as an
``InvalidInputException`` with that text.

Point location and segment intersection are Shapely's (BSD-3-Clause; it wraps GEOS, LGPL-2.1):
a well-kept library with robust predicates, preferred to hand-written geometry. NumPy does the
per-point bookkeeping (sides of a line, steps of time) over whole chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from duckdb.func import FunctionNullHandling, PythonUDFType

PATH_TYPE = "STRUCT(ts DOUBLE, x DOUBLE, y DOUBLE)[]"
POLYGON_TYPE = "DOUBLE[][]"

FUNCTIONS: tuple[tuple[str, str, str], ...] = (
    ("inside", "inside(x DOUBLE, y DOUBLE, polygon DOUBLE[][]) -> BOOLEAN",
     "Whether the point (x, y) lies inside the polygon; a point on its boundary is inside."),
    ("crossings", f"crossings(path {PATH_TYPE}, x1 DOUBLE, y1 DOUBLE, x2 DOUBLE, y2 DOUBLE)"
                  " -> INTEGER",
     "Net crossings of the segment from (x1, y1) to (x2, y2) by the path: +1 from its left to "
     "its right as seen on screen (downwards for a segment drawn left to right), -1 back."),
    ("dwell", f"dwell(path {PATH_TYPE}, polygon DOUBLE[][]) -> DOUBLE",
     "Seconds the path spends inside the polygon: each step between consecutive points counts "
     "when the point that starts it is inside."),
    ("entered", f"entered(path {PATH_TYPE}, polygon DOUBLE[][]) -> DOUBLE",
     "The ts of the path's first point inside the polygon, NULL if it never is."),
)


def inside(x: pa.Array | pa.ChunkedArray, y: pa.Array | pa.ChunkedArray,
           polygon: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per row, whether the point (``x``, ``y``) is inside ``polygon`` or on its boundary."""
    ok, (xs, ys, polygons) = _valid_rows(x, y, polygon)
    shapes = _polygons("inside", polygons)
    result = shapely.intersects_xy(shapes, _floats(xs), _floats(ys))
    return _scatter(ok, np.asarray(result, dtype=bool), pa.bool_())


def crossings(path: pa.Array | pa.ChunkedArray, x1: pa.Array | pa.ChunkedArray,
              y1: pa.Array | pa.ChunkedArray, x2: pa.Array | pa.ChunkedArray,
              y2: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per row, the net number of times ``path`` crosses the directed segment (x1,y1)->(x2,y2).

    +1 for each crossing from the segment's left to its right as seen on screen (y down: for a
    segment drawn left to right, moving downwards), -1 for each the other way. A point exactly
    on the line is on neither side: a path that touches the line and turns back does not cross,
    one that stops on it and goes on across crosses once. A crossing counts when the part of the
    path that goes from one side to the other meets the closed segment (its ends included).
    """
    ok, (paths, *ends) = _valid_rows(path, x1, y1, x2, y2)
    points = _points("crossings", paths)
    ax, ay, bx, by = (_floats(column) for column in ends)
    _check_segments(ax, ay, bx, by)
    row = points.row
    dx, dy = bx - ax, by - ay
    # The sign of the cross product: > 0 on the right of A->B as seen with y pointing down.
    side = np.sign(dx[row] * (points.y - ay[row]) - dy[row] * (points.x - ax[row]))
    start, stop = _side_changes(row, side)
    counts = np.zeros(points.rows, dtype=np.int64)
    if start.size:
        r = row[start]
        segments = shapely.linestrings(np.stack([np.stack([ax[r], ay[r]], axis=1),
                                                 np.stack([bx[r], by[r]], axis=1)], axis=1))
        hits = np.asarray(shapely.intersects(_pieces(points, start, stop), segments), dtype=bool)
        np.add.at(counts, r[hits], side[stop[hits]].astype(np.int64))
    return _scatter(ok, counts.astype(np.int32), pa.int32())


def dwell(path: pa.Array | pa.ChunkedArray, polygon: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per row, the seconds ``path`` spends inside ``polygon`` (0 for an empty path).

    Time is credited to the state at the start of each step: the step from point i to point
    i+1 adds ``ts[i+1] - ts[i]`` when point i is inside (on the boundary counts as inside), so
    the last point adds nothing.
    """
    ok, (paths, polygons) = _valid_rows(path, polygon)
    points = _points("dwell", paths)
    within = _points_inside("dwell", points, polygons)
    row = points.row
    same_row = row[:-1] == row[1:]
    steps = np.diff(points.ts)
    backwards = np.flatnonzero(same_row & (steps < 0))
    if backwards.size:
        k = backwards[0]
        raise ValueError(f"dwell: the path's points are not in time order (ts {points.ts[k]:g} "
                         f"is followed by {points.ts[k + 1]:g})")
    credited = same_row & within[:-1]
    seconds = np.bincount(row[:-1][credited], weights=steps[credited], minlength=points.rows)
    return _scatter(ok, seconds.astype(np.float64), pa.float64())


def entered(path: pa.Array | pa.ChunkedArray, polygon: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Per row, the ``ts`` of the first point of ``path`` inside ``polygon``; NULL if none is."""
    ok, (paths, polygons) = _valid_rows(path, polygon)
    points = _points("entered", paths)
    within = np.flatnonzero(_points_inside("entered", points, polygons))
    rows, first = np.unique(points.row[within], return_index=True)
    times = np.zeros(points.rows, dtype=np.float64)
    found = np.zeros(points.rows, dtype=bool)
    times[rows] = points.ts[within[first]]
    found[rows] = True
    return _scatter(ok, times, pa.float64(), found)


def register(duck: duckdb.DuckDBPyConnection) -> None:
    """Register ``inside``, ``crossings``, ``dwell`` and ``entered`` as DuckDB functions. Two
    connections of one process to the same database file share one DuckDB instance, where the
    first registration serves both (and outlives the connection that made it)."""
    path, polygon, double = PATH_TYPE, POLYGON_TYPE, "DOUBLE"
    declared: tuple[tuple[str, Any, tuple[str, ...], str], ...] = (
        ("inside", inside, (double, double, polygon), "BOOLEAN"),
        ("crossings", crossings, (path, double, double, double, double), "INTEGER"),
        ("dwell", dwell, (path, polygon), "DOUBLE"),
        ("entered", entered, (path, polygon), "DOUBLE"),
    )
    for name, function, params, returns in declared:
        # SPECIAL: the functions see NULL rows and answer NULL for them themselves, since
        # DEFAULT forbids the NULL that ``entered`` returns for a path never inside.
        try:
            duck.create_function(name, function, [duckdb.sqltype(p) for p in params],
                                 duckdb.sqltype(returns), type=PythonUDFType.ARROW,
                                 null_handling=FunctionNullHandling.SPECIAL,
                                 side_effects=False)
        except duckdb.CatalogException as error:
            if "already exists" not in str(error):
                raise


@dataclass(frozen=True, slots=True)
class _Points:
    """The points of a chunk's paths, flattened: each point's row, time and position."""

    rows: int
    row: np.ndarray
    ts: np.ndarray
    x: np.ndarray
    y: np.ndarray


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks()
    return column


def _valid_rows(*columns: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[pa.Array]]:
    """The rows where no argument is NULL, and each argument cut down to those rows."""
    arrays = [_combined(column) for column in columns]
    ok = np.ones(len(arrays[0]), dtype=bool)
    for array in arrays:
        if array.null_count:
            ok &= np.asarray(array.is_valid(), dtype=bool)
    if ok.all():
        return ok, arrays
    keep = pa.array(ok)
    return ok, [array.filter(keep) for array in arrays]


def _floats(array: pa.Array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def _scatter(ok: np.ndarray, values: np.ndarray, kind: pa.DataType,
             found: np.ndarray | None = None) -> pa.Array:
    """The answers for the valid rows put back among all rows, NULL where a row was not valid
    (or, with ``found``, where the answer is missing)."""
    full = np.zeros(len(ok), dtype=values.dtype)
    full[ok] = values
    valid = ok.copy()
    if found is not None:
        valid[ok] = found
    return pa.array(full, type=kind, mask=~valid)


def _points(function: str, paths: pa.Array) -> _Points:
    """The points of ``paths`` (a list of structs per row); a NULL point or field is an error."""
    lengths = np.asarray(pc.fill_null(pc.list_value_length(paths), 0), dtype=np.int64)
    flat = pc.list_flatten(paths)
    if flat.null_count:
        raise ValueError(f"{function}: a path has a NULL point; every point needs ts, x and y")
    fields = []
    for name in ("ts", "x", "y"):
        field = flat.field(name)
        if field.null_count:
            raise ValueError(f"{function}: a path point has a NULL {name}; every point needs "
                             "ts, x and y")
        fields.append(_floats(field))
    row = np.repeat(np.arange(len(paths)), lengths)
    return _Points(len(paths), row, *fields)


def _points_inside(function: str, points: _Points, polygons: pa.Array) -> np.ndarray:
    """Whether each point of ``points`` is inside (or on) the polygon of its row."""
    shapes = _polygons(function, polygons)
    if isinstance(shapes, np.ndarray):
        shapely.prepare(shapes)
        shapes = shapes[points.row]
    return np.asarray(shapely.intersects_xy(shapes, points.x, points.y), dtype=bool)


def _polygons(function: str, polygons: pa.Array) -> Any:
    """The Shapely polygon of each row (one prepared polygon when every row has the same)."""
    lengths, coords = _polygon_points(function, polygons)
    if len(lengths) and (lengths == lengths[0]).all():
        grid = coords.reshape(len(lengths), int(lengths[0]), 2)
        if (grid == grid[0]).all():
            shape = shapely.Polygon(grid[0])
            shapely.prepare(shape)
            return shape
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(lengths)), lengths))
    return shapely.polygons(rings)


def _polygon_points(function: str, polygons: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The number of points of each row's polygon and all their (x, y), checked: pairs, no
    NULL, and at least 3 points (not counting a last point that repeats the first)."""
    lengths = np.asarray(pc.fill_null(pc.list_value_length(polygons), 0), dtype=np.int64)
    pairs = pc.list_flatten(polygons)
    if pairs.null_count:
        raise ValueError(f"{function}: a polygon point is NULL; each point must be a pair [x, y] "
                         f"(polygon {_show(polygons, np.flatnonzero(_null_items(polygons))[0])})")
    odd = np.flatnonzero(np.asarray(pc.list_value_length(pairs), dtype=np.int64) != 2)
    if odd.size:
        raise ValueError(f"{function}: each polygon point must be a pair [x, y], got "
                         f"{pairs[int(odd[0])].as_py()} "
                         f"(polygon {_show(polygons, _row_of(lengths, odd[0]))})")
    values = pc.list_flatten(pairs)
    if values.null_count:
        k = int(np.flatnonzero(~np.asarray(values.is_valid(), dtype=bool))[0]) // 2
        raise ValueError(f"{function}: a polygon point has a NULL coordinate "
                         f"(polygon {_show(polygons, _row_of(lengths, k))})")
    coords = _floats(values).reshape(-1, 2)
    corners = lengths - _closed(lengths, coords)
    short = np.flatnonzero(corners < 3)
    if short.size:
        k = int(short[0])
        raise ValueError(f"{function}: a polygon needs at least 3 points, got {int(corners[k])} "
                         f"(polygon {_show(polygons, k)})")
    return lengths, coords


def _closed(lengths: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Per polygon, whether its last point repeats its first (the ring closed by hand)."""
    ends = np.cumsum(lengths)
    some = lengths > 1
    closed = np.zeros(len(lengths), dtype=bool)
    closed[some] = (coords[ends[some] - lengths[some]] == coords[ends[some] - 1]).all(axis=1)
    return closed


def _check_segments(ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray) -> None:
    """Raise for a segment whose two ends are the same point: it has no sides."""
    flat = np.flatnonzero((ax == bx) & (ay == by))
    if flat.size:
        k = flat[0]
        raise ValueError(f"crossings: the segment from ({ax[k]:g}, {ay[k]:g}) to "
                         f"({bx[k]:g}, {by[k]:g}) has no length: its two ends are the same point")


def _side_changes(row: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a path changes side: each pair of its consecutive points off the line (any points
    on the line between skipped) that lie on opposite sides, as their flat indices."""
    off_line = np.flatnonzero(side != 0)
    start, stop = off_line[:-1], off_line[1:]
    changes = (row[start] == row[stop]) & (side[start] != side[stop])
    return start[changes], stop[changes]


def _pieces(points: _Points, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Each change of side as a line string: the points from ``start`` to ``stop``, with those
    on the line between."""
    lengths = stop - start + 1
    members = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    return np.asarray(shapely.linestrings(points.x[members], points.y[members],
                                          indices=np.repeat(np.arange(start.size), lengths)))


def _null_items(polygons: pa.Array) -> np.ndarray:
    """Per row, whether its polygon has a NULL point."""
    counts = [any(point is None for point in polygon) for polygon in polygons.to_pylist()]
    return np.asarray(counts, dtype=bool)


def _row_of(lengths: np.ndarray, item: int) -> int:
    return int(np.searchsorted(np.cumsum(lengths), item, side="right"))


def _show(polygons: pa.Array, k: int) -> str:
    points = polygons[int(k)].as_py()
    return "[" + ", ".join("NULL" if p is None else "[" + ", ".join(
        "NULL" if v is None else f"{v:g}" for v in p) + "]" for p in points) + "]"
