"""RENDER: annotated clips and images of a query's result, and timeline plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import vql
from vql.render import render_timeline
from vql.render.draw import BOX_COLOUR


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_a_clip_has_one_frame_per_row_at_the_video_size(room: vql.Connection,
                                                        tmp_path: Path) -> None:
    import decord

    target = tmp_path / "people.mp4"
    (file, kind, frames), = room.execute(
        f"RENDER '{target}' AS SELECT path, frame_id, ts, detect(frame) AS objects FROM room "
        "WHERE has_object(frame, 'person') AND frame_id < 600 LIMIT 12").fetchall()
    assert (file, kind, frames) == (str(target), "clip", 12)
    clip = decord.VideoReader(str(target))
    assert len(clip) == 12 and clip[0].shape == (432, 768, 3)


def test_boxes_are_drawn_where_the_detections_are(room: vql.Connection, tmp_path: Path,
                                                  room_video: Path) -> None:
    import decord

    rows = room.execute("SELECT frame_id, detect(frame) AS objects FROM room "
                        "WHERE frame_id IN (202, 203) ORDER BY frame_id").fetchall()
    assert all(objects for _, objects in rows)  # the detector finds something on both
    folder = tmp_path / "frames"
    room.execute(f"RENDER '{folder}' AS SELECT path, frame_id, detect(frame) AS objects "
                 "FROM room WHERE frame_id IN (202, 203) ORDER BY frame_id").fetchall()
    images = sorted(folder.glob("*.png"))
    assert [p.name.rsplit("_", 1)[1] for p in images] == ["202.png", "203.png"]
    original = decord.VideoReader(str(room_video)).get_batch([202, 203]).asnumpy()
    for image_path, frame, (_, objects) in zip(images, original, rows, strict=True):
        image = _read_image(image_path)
        assert image.shape == frame.shape
        for box in objects:  # the middle of each box's left and bottom edges is box-coloured
            x1, y2 = round(box["x1"]), min(round(box["y2"]), frame.shape[0] - 1)
            middle_y, middle_x = round((box["y1"] + box["y2"]) / 2), round(
                (box["x1"] + box["x2"]) / 2)
            for y, x in ((middle_y, x1), (y2, middle_x)):
                assert np.abs(image[y, x].astype(int) - BOX_COLOUR).max() <= 2
        boxed = np.zeros(frame.shape[:2], dtype=bool)
        for box in objects:
            boxed[max(round(box["y1"]) - 30, 0):round(box["y2"]) + 3,
                  max(round(box["x1"]) - 3, 0):round(box["x2"]) + 3] = True
        boxed[:120, :] = True  # the text panel
        assert np.array_equal(image[~boxed], frame[~boxed])  # nothing else is touched


def test_a_timeline_has_a_panel_per_value_and_marks_filled_frames(road: vql.Connection,
                                                                   tmp_path: Path) -> None:
    target = tmp_path / "road.png"
    (_, kind, points), = road.execute(
        f"RENDER TIMELINE '{target}' AS SELECT path, ts, moving_objects AS cars, "
        "moving_objects >= 2 AS busy FROM intersection").fetchall()
    assert kind == "timeline" and points == 377
    image = _read_image(target)
    assert image.shape == (2 * 220 + 80, 1200, 3)
    result = road.execute("SELECT path, ts, moving_objects AS cars FROM intersection "
                          "WHERE frame_id < 100").fetch_arrow_table()

    def grey_pixels(table: pa.Table, name: str) -> int:
        render_timeline(table, tmp_path / name)
        pixels = _read_image(tmp_path / name).astype(int)
        return int(np.count_nonzero(np.abs(pixels - 153).max(axis=2) <= 8))  # "0.6" grey

    computed = pa.array([i % 3 == 0 for i in range(result.num_rows)])
    assert grey_pixels(result.append_column("computed", computed), "filled.png") > \
        grey_pixels(result, "plain.png") + 50


def test_render_says_what_it_needs(road: vql.Connection, tmp_path: Path) -> None:
    with pytest.raises(vql.ProgrammingError, match="select the columns path, frame_id"):
        road.execute(f"RENDER '{tmp_path / 'x.mp4'}' AS SELECT ts FROM intersection LIMIT 2")
    with pytest.raises(vql.ProgrammingError, match="cannot render to"):
        road.execute(f"RENDER '{tmp_path / 'x.gif'}' AS SELECT path, frame_id FROM intersection")
    with pytest.raises(vql.ProgrammingError, match="no rows"):
        road.execute(f"RENDER '{tmp_path / 'x.mp4'}' AS SELECT path, frame_id FROM intersection "
                     "WHERE frame_id < 0")
    with pytest.raises(vql.ProgrammingError, match="number or boolean"):
        road.execute(f"RENDER TIMELINE '{tmp_path / 'x.png'}' AS SELECT path, ts "
                     "FROM intersection")


def test_the_render_command(tmp_path: Path, road_video: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    from vql.cli import main

    db = str(tmp_path / "r.duckdb")
    assert main(["--db", db, "-c", f"CREATE VIDEO TABLE road FROM '{road_video}';"]) == 0
    assert main(["render", "SELECT path, ts, brightness FROM road", "--timeline",
                 "--out", str(tmp_path / "t.png"), "--db", db]) == 0
    assert "timeline" in capsys.readouterr().out and (tmp_path / "t.png").stat().st_size > 0


# --- RENDER cannot destroy data (issue 12) ---------------------------------------------------

def test_render_never_writes_over_a_video_a_table_reads(road: vql.Connection,
                                                       road_video: Path) -> None:
    before = road_video.stat().st_mtime
    with pytest.raises(vql.ProgrammingError, match="a video table reads"):
        road.execute(f"RENDER '{road_video}' OVERWRITE AS SELECT path, frame_id "
                     "FROM intersection WHERE frame_id < 2")
    assert road_video.stat().st_mtime == before


def test_render_never_writes_over_the_database(tmp_path: Path, road_video: Path) -> None:
    database = tmp_path / "v.duckdb"
    with vql.connect(database) as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        with pytest.raises(vql.ProgrammingError, match="the database holds"):
            con.execute(f"RENDER '{database}.wal' OVERWRITE AS SELECT path, frame_id "
                        "FROM road WHERE frame_id < 2")
        assert con.execute("SELECT count(*) FROM road").fetchall() == [(377,)]


def test_an_existing_file_is_replaced_only_when_asked(road: vql.Connection,
                                                     tmp_path: Path) -> None:
    target = tmp_path / "plot.png"
    target.write_bytes(b"keep me")
    query = "AS SELECT ts, brightness FROM intersection WHERE frame_id < 5"
    with pytest.raises(vql.ProgrammingError, match="OVERWRITE"):
        road.execute(f"RENDER TIMELINE '{target}' {query}")
    assert target.read_bytes() == b"keep me"
    road.execute(f"RENDER TIMELINE '{target}' OVERWRITE {query}")
    assert target.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(("target", "message"), [
    ("", "RENDER needs a file name"),
    ("plot.mp4", "a timeline is an image"),
])
def test_bad_timeline_targets_are_refused_before_the_query_runs(
        road: vql.Connection, target: str, message: str) -> None:
    with pytest.raises(vql.ProgrammingError, match=message):
        road.execute(f"RENDER TIMELINE '{target}' AS SELECT ts, brightness FROM intersection")
    stats = road.execute("SELECT 1").fetchall()
    assert stats == [(1,)]


def test_the_target_can_be_a_parameter(road: vql.Connection, tmp_path: Path) -> None:
    """'RENDER ? AS ...' wrote to a folder named ./1/ (the marker's number) (issue 13)."""
    target = tmp_path / "by-parameter.png"
    (path, kind, points), = road.execute(
        "RENDER TIMELINE ? AS SELECT path, ts, brightness FROM intersection WHERE frame_id < ?",
        [str(target), 50]).fetchall()
    assert Path(path) == target and target.is_file() and points == 50
    with pytest.raises(vql.BindError, match="must be a string"):
        road.execute("RENDER TIMELINE ? AS SELECT path, ts, brightness FROM intersection", [3])
