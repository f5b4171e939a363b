"""The lines and zones a query names, drawn on its clip: the segment of each
``crossings(path, x1, y1, x2, y2)`` and the polygon of each ``inside(x, y, polygon)``,
``dwell(path, polygon)`` and ``entered(path, polygon)`` whose coordinates are literals.

A line is drawn as an arrow from (x1, y1) to (x2, y2), with ``+1`` on the side a path crosses
to when ``crossings`` counts it +1 (its right as seen on screen) and ``-1`` on the other; a
zone as its outline. Both in white over a dark edge, so that they show on any scene, and
under the boxes, so that they hide none."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

Point = tuple[float, float]
WHITE = (255, 255, 255)
EDGE = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class Shapes:
    """Directed lines and polygons, in the pixels of the decoded frames."""

    lines: tuple[tuple[Point, Point], ...] = ()
    polygons: tuple[tuple[Point, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.lines or self.polygons)


# Where each geometry function takes its polygon (argument index), and crossings its line.
POLYGON_ARGUMENT = {"inside": 2, "dwell": 1, "entered": 1}
LINE_FUNCTION = "crossings"


def shapes_in(*sql: str) -> Shapes:
    """The literal lines and polygons of the geometry calls in ``sql`` (DuckDB statements or
    expressions), each once, in order of appearance."""
    lines: list[tuple[Point, Point]] = []
    polygons: list[tuple[Point, ...]] = []
    for text in sql:
        try:
            tree = sqlglot.parse_one(text, dialect="duckdb")
        except SqlglotError:
            continue
        for call in tree.find_all(exp.Anonymous):
            name, args = call.name.lower(), call.expressions
            if name == LINE_FUNCTION and len(args) == 5:
                numbers = [_number(a) for a in args[1:]]
                if None not in numbers:
                    x1, y1, x2, y2 = (float(n) for n in numbers if n is not None)
                    line = ((x1, y1), (x2, y2))
                    if line not in lines:
                        lines.append(line)
            elif name in POLYGON_ARGUMENT and len(args) > POLYGON_ARGUMENT[name]:
                polygon = _polygon(args[POLYGON_ARGUMENT[name]])
                if polygon is not None and polygon not in polygons:
                    polygons.append(polygon)
    return Shapes(tuple(lines), tuple(polygons))


def _number(node: exp.Expr) -> float | None:
    if isinstance(node, exp.Paren):
        return _number(node.this)
    if isinstance(node, exp.Neg):
        value = _number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.this)
        except ValueError:
            return None
    return None


def _polygon(node: exp.Expr) -> tuple[Point, ...] | None:
    """A literal ``[[x, y], ...]`` of three points or more, or None."""
    if not isinstance(node, exp.Array):
        return None
    points = []
    for item in node.expressions:
        if not isinstance(item, exp.Array) or len(item.expressions) != 2:
            return None
        x, y = (_number(v) for v in item.expressions)
        if x is None or y is None:
            return None
        points.append((x, y))
    return tuple(points) if len(points) >= 3 else None


def draw_shapes(picture: np.ndarray, shapes: Shapes, thickness: int, font_scale: float,
                scale: tuple[float, float] = (1.0, 1.0)) -> None:
    """Draw ``shapes`` on ``picture`` (in place); ``scale`` (x, y) maps their pixels to it."""
    import cv2

    sx, sy = scale

    def at(point: Point) -> tuple[int, int]:
        return round(point[0] * sx), round(point[1] * sy)

    for polygon in shapes.polygons:
        outline = np.array([at(p) for p in polygon], dtype=np.int32)
        cv2.polylines(picture, [outline], True, EDGE, thickness + 2, cv2.LINE_AA)
        cv2.polylines(picture, [outline], True, WHITE, thickness, cv2.LINE_AA)
    for start, end in shapes.lines:
        a, b = at(start), at(end)
        tip = 12 * thickness / max(math.dist(a, b), 1.0)
        cv2.arrowedLine(picture, a, b, EDGE, thickness + 2, cv2.LINE_AA, tipLength=tip)
        cv2.arrowedLine(picture, a, b, WHITE, thickness, cv2.LINE_AA, tipLength=tip)
        _mark_sides(picture, a, b, thickness, font_scale)


def _mark_sides(picture: np.ndarray, a: tuple[int, int], b: tuple[int, int], thickness: int,
                font_scale: float) -> None:
    """``+1`` on the line's right as seen on screen (y down), ``-1`` on its left, near the
    middle: the sign ``crossings`` gives a path going to that side."""
    import cv2

    length = max(math.dist(a, b), 1.0)
    normal = (-(b[1] - a[1]) / length, (b[0] - a[0]) / length)  # to the right, y pointing down
    middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    offset = 22 * font_scale / 0.5
    for text, sign in (("+1", 1.0), ("-1", -1.0)):
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                                             thickness)
        x = round(middle[0] + sign * normal[0] * offset - width / 2)
        y = round(middle[1] + sign * normal[1] * offset + height / 2)
        x = min(max(x, 0), max(picture.shape[1] - width, 0))
        y = min(max(y, height), picture.shape[0] - 1)
        cv2.putText(picture, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, EDGE,
                    thickness + 2, cv2.LINE_AA)
        cv2.putText(picture, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, font_scale, WHITE,
                    thickness, cv2.LINE_AA)
