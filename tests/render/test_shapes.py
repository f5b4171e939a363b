"""The lines and zones a query names are drawn on its clip: crossings' line as an arrow with
the side each sign means, a zone's outline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import vql
from vql.render.draw import header_height
from vql.render.shapes import Shapes, draw_shapes, shapes_in

WHITE = 245  # the shapes are white (anti-aliased at their edges)


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT crossings(path, 0, 216, 768, 216) AS d FROM t",
     Shapes(lines=(((0.0, 216.0), (768.0, 216.0)),))),
    ("SELECT * FROM t WHERE dwell(path, [[0, 0], [400, 0], [400, 432]]) > 2 "
     "AND entered(path, [[0, 0], [400, 0], [400, 432]]) < 9",   # the same zone once
     Shapes(polygons=(((0.0, 0.0), (400.0, 0.0), (400.0, 432.0)),))),
    ("SELECT x FROM (SELECT inside(o.x, o.y, [[1.5, -2], [9, 0], [9, 9]]) AS x FROM t) s",
     Shapes(polygons=(((1.5, -2.0), (9.0, 0.0), (9.0, 9.0)),))),
    # only literal coordinates; parameters and columns are not known until the query runs
    ("SELECT crossings(path, $1, 0, 9, 9), dwell(path, zone), inside(x, y, [[0, 0], [1, 1]]) "
     "FROM t", Shapes()),
])
def test_the_shapes_a_query_names(sql: str, expected: Shapes) -> None:
    assert shapes_in(sql) == expected


def test_a_zone_is_its_outline() -> None:
    picture = np.zeros((100, 200, 3), dtype=np.uint8)
    draw_shapes(picture, Shapes(polygons=(((20, 20), (180, 20), (180, 80), (20, 80)),)), 2,
                0.5)
    assert picture[20, 100].min() >= WHITE and picture[80, 100].min() >= WHITE  # edges
    assert picture[50, 100].max() == 0 and picture[5, 100].max() == 0  # inside, outside


def test_a_clip_of_the_cars_that_crossed_shows_the_line(road: vql.Connection, tmp_path: Path,
                                                          road_video: Path) -> None:
    import decord
    from PIL import Image

    # The frames of the cars that crossed the line going down, drawn with the line: an arrow
    # left to right along y = 216, "+1" below it (where a car crossing down goes), "-1" above.
    sql = ("SELECT path, frame_id, track(frame, 'vehicle') AS cars FROM intersection "
           "WHERE frame_id % 15 = 0 AND frame_id IN (SELECT unnest(range(first_frame, "
           "last_frame + 1)) FROM tracks(intersection, 'vehicle') "
           "WHERE crossings(path, 0, 216, 768, 216) = 1)")
    road.execute("SELECT count(*) FROM tracks(intersection, 'vehicle')").fetchall()  # cached
    road.execute(f"RENDER '{tmp_path / 'down'}' AS {sql}").fetchall()
    rows = {frame_id: cars for _, frame_id, cars in road.execute(sql).fetchall()}
    strip = header_height(768, 432, ["path", "frame_id", "cars"])
    images = {int(p.stem.rsplit("_", 1)[1]): np.asarray(Image.open(p).convert("RGB"))[strip:]
              for p in (tmp_path / "down").glob("*.png")}
    assert sorted(images) == sorted(rows) and len(rows) >= 4
    originals = dict(zip(sorted(rows), decord.VideoReader(str(road_video)).get_batch(
        sorted(rows)).asnumpy(), strict=True))
    lined = 0
    for frame_id, image in images.items():
        clear = [x for x in range(0, 740, 8) if not any(
            c["x1"] - 6 <= x <= c["x2"] + 6 for c in rows[frame_id])]
        assert all(image[216, x].min() >= WHITE for x in clear)  # the line, where no box is
        assert not clear or not all(originals[frame_id][216, x].min() >= WHITE for x in clear)
        lined += len(clear) >= 10
        below, above = image[222:250, 354:414], image[182:210, 354:414]  # "+1", "-1"
        for drawn, original in ((below, originals[frame_id][222:250, 354:414]),
                                (above, originals[frame_id][182:210, 354:414])):
            assert (drawn.min(axis=2) >= WHITE).sum() > (original.min(axis=2) >= WHITE).sum() + 20
    # Seen clear of the boxes on most frames (as the last car leaves, the camera's exposure
    # changes and its moving-object box spans the whole frame for a few frames)
    assert lined >= len(images) - 2
