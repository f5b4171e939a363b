"""RENDER: annotated clips and images of a query's result, and timeline plots."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import vql
from vql.render import class_colour, render_timeline, writers
from vql.render.draw import COMMON_LABELS, PALETTE, STRIP_COLOUR, Style, annotate, header_height

DETECTED = "SELECT path, frame_id, ts, detect(frame) AS objects FROM room"


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _needs_h264() -> None:
    """Skip (fail under CI, where the dev extra installs PyAV) without an H.264 encoder."""
    if writers.h264_encoder() is None:
        reason = "no H.264 encoder: PyAV (pip install av) with libx264 or libopenh264 is needed"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _video_stream(path: Path) -> tuple[str, str, int, int, int]:
    """codec, pixel format, width, height and the number of frames, as FFmpeg reads them."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (stream.codec_context.name, str(stream.format.name), stream.width,
                stream.height, frames)


# --- clips ----------------------------------------------------------------------------------

def test_an_mp4_clip_is_h264_one_frame_per_row(room: vql.Connection, tmp_path: Path) -> None:
    """Browsers, Jupyter and VS Code play H.264 in yuv420p, with the index (moov) first."""
    _needs_h264()
    target = tmp_path / "people.mp4"
    (file, kind, frames), = room.execute(
        f"RENDER '{target}' AS {DETECTED} WHERE frame_id BETWEEN 300 AND 311").fetchall()
    assert (file, kind, frames) == (str(target), "clip", 12)
    strip = header_height(768, 432, ["path", "frame_id", "ts", "objects"])
    assert _video_stream(target) == ("h264", "yuv420p", 768, 432 + strip, 12)
    data = target.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # plays while it downloads


def test_without_h264_an_mp4_is_mpeg4_with_a_warning(road: vql.Connection, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("av")  # to read the codec back
    monkeypatch.setattr(writers, "h264_encoder", lambda: None)  # as without PyAV
    target = tmp_path / "road.mp4"
    with pytest.warns(vql.FallbackWarning, match="may not play.*pip install av"):
        cursor = road.execute(f"RENDER '{target}' AS SELECT path, frame_id FROM intersection "
                              "WHERE frame_id < 5")
    # in the result's messages, which the shell prints as a Warning: line
    assert [category for category, _ in cursor.messages] == [vql.FallbackWarning]
    assert _video_stream(target)[0] == "mpeg4" and _video_stream(target)[4] == 5


def test_an_h264_clip_of_an_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    """4:2:0 H.264 needs even sizes: a 641x361 picture gets a black column and row."""
    _needs_h264()
    sink = writers.open_sink(tmp_path / "odd.mp4", 10.0)
    gradient = np.linspace(0, 255, 641, dtype=np.uint8)[None, :, None]
    for _ in range(3):
        sink.write(np.broadcast_to(gradient, (361, 641, 3)).copy(), "")
    sink.close()
    assert _video_stream(tmp_path / "odd.mp4") == ("h264", "yuv420p", 642, 362, 3)


@pytest.mark.parametrize(("step", "delay_ms"), [(1, 100), (5, 500)])
def test_a_gif_loops_one_frame_per_row_in_real_time(room: vql.Connection, tmp_path: Path,
                                                    step: int, delay_ms: int) -> None:
    """The room video runs at 10 fps: every frame is 100 ms a frame, every 5th 500 ms."""
    from PIL import Image

    target = tmp_path / "people.gif"
    (file, kind, frames), = room.execute(
        f"RENDER '{target}' AS {DETECTED} WHERE frame_id BETWEEN 300 AND 319 "
        f"AND frame_id % {step} = 0").fetchall()
    assert (file, kind, frames) == (str(target), "clip", 20 // step)
    with Image.open(target) as gif:
        assert gif.format == "GIF" and getattr(gif, "n_frames", 1) == 20 // step
        assert gif.info["duration"] == delay_ms and gif.info["loop"] == 0
        width, height = gif.size
    strip = header_height(512, 288, ["path", "frame_id", "ts", "objects"])
    assert (width, height) == (512, 288 + strip)  # 768x432 scaled to 512 on the long side


def test_a_gif_keeps_the_class_colours(room: vql.Connection, tmp_path: Path) -> None:
    """One palette is shared by the frames, but the boxes keep their class's exact colour."""
    from PIL import Image

    target = tmp_path / "one.gif"
    room.execute(f"RENDER '{target}' AS {DETECTED} WHERE frame_id = 320").fetchall()
    with Image.open(target) as gif:
        pixels = np.asarray(gif.convert("RGB")).reshape(-1, 3)
    person = np.all(pixels == class_colour("person"), axis=1)
    assert person.sum() > 500  # the box around the one person


# --- drawing --------------------------------------------------------------------------------

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
    style = Style.for_size(768, 432)
    for image_path, frame, (_, objects) in zip(images, original, rows, strict=True):
        image = _read_image(image_path)
        strip = image.shape[0] - frame.shape[0]
        assert strip == header_height(768, 432, ["path", "frame_id", "objects"]) > 0
        assert np.all(image[:strip][:, -50:] == STRIP_COLOUR)  # the header is above the frame
        picture = image[strip:]
        for box in objects:  # the middle of each box's left and bottom edges has its colour
            x1, y2 = round(box["x1"]), min(round(box["y2"]), frame.shape[0] - 1)
            middle_y, middle_x = round((box["y1"] + box["y2"]) / 2), round(
                (box["x1"] + box["x2"]) / 2)
            for y, x in ((middle_y, x1), (y2, middle_x)):
                assert np.abs(picture[y, x].astype(int) - class_colour(box["label"])).max() <= 2
        boxed = np.zeros(frame.shape[:2], dtype=bool)
        edge = style.box_thickness
        for box in objects:  # each box, its outline and its label (above, or inside at the top)
            boxed[max(round(box["y1"]) - 30, 0):round(box["y2"]) + edge,
                  max(round(box["x1"]) - edge, 0):max(round(box["x2"]), round(box["x1"]) + 150)
                  + edge] = True
        assert np.array_equal(picture[~boxed], frame[~boxed])  # nothing else is touched


def test_the_header_never_covers_a_detection(room_video: Path) -> None:
    """A box in the top-left corner, where a header on the frame would go, keeps every pixel
    inside it (the header has a strip of its own above the frame)."""
    import decord

    frame = decord.VideoReader(str(room_video))[320].asnumpy()
    row = {"path": str(room_video), "frame_id": 320, "ts": 32.0, "busy": True,
           "note": "a long value " * 20,
           "objects": [{"label": "person", "score": 0.9, "x1": 0.0, "y1": 40.0, "x2": 420.0,
                        "y2": 200.0}]}
    image = annotate(frame, row, list(row))
    strip = image.shape[0] - frame.shape[0]
    assert strip == header_height(768, 432, list(row))
    edge = Style.for_size(768, 432).box_thickness
    inside = (slice(40 + edge, 200 - edge), slice(edge, 420 - edge))
    assert np.array_equal(image[strip:][inside], frame[inside])
    header = image[:strip]
    assert np.count_nonzero(np.all(header == (255, 255, 255), axis=2)) > 500  # its text


def test_box_lines_and_text_grow_with_the_frame() -> None:
    small, large = Style.for_size(768, 432), Style.for_size(1920, 1080)
    assert small.box_thickness >= 2 and large.box_thickness >= 2 * small.box_thickness
    assert large.line_height >= 2 * small.line_height
    assert Style.for_size(1920, 1080).strip_height(3) % 2 == 0  # H.264 needs even sizes


def test_each_class_has_its_own_stable_colour() -> None:
    common = [class_colour(label) for label in COMMON_LABELS]
    assert len(set(common)) == len(common) == len(PALETTE)  # person, car, chair... all differ
    assert class_colour("Person") == class_colour("person") == common[0]
    others = ["zebra", "hair drier", "forklift"]
    assert all(class_colour(label) in PALETTE for label in others)
    # the same colours in another process (Python's own hash() would change them)
    code = ("from vql.render import class_colour; "
            f"print([class_colour(x) for x in {others!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONHASHSEED": "123"}).stdout
    assert out.strip() == str([class_colour(label) for label in others])


# --- timelines ------------------------------------------------------------------------------

def _y_tick_labels(svg: str) -> list[list[str]]:
    """Each panel's y tick labels, read from matplotlib's SVG (it writes each text as a
    comment before its glyphs)."""
    panels = re.split(r'<g id="axes_\d+">', svg)[1:]
    return [re.findall(r'<g id="ytick_\d+">.*?<!-- (.*?) -->', panel, flags=re.S)
            for panel in panels]


@pytest.fixture(scope="module")
def road_counts(road_video: Path) -> pa.Table:
    """Moving objects (an integer) and brightness per frame of the road video, computed once."""
    with vql.connect(":memory:") as con:
        con.execute("LOAD VIDEO ? INTO road", [str(road_video)])
        return con.execute("SELECT path, ts, moving_objects AS cars, brightness FROM road "
                           "WHERE frame_id BETWEEN 150 AND 260").fetch_arrow_table()


def test_a_count_has_whole_number_ticks(road_counts: pa.Table, tmp_path: Path) -> None:
    target = tmp_path / "cars.svg"
    render_timeline(road_counts, target)
    assert pa.types.is_integer(road_counts.schema.field("cars").type)
    cars, brightness = _y_tick_labels(target.read_text())
    assert cars and all(re.fullmatch(r"\d+", tick) for tick in cars)  # 0, 1, 2: no 0.5
    assert cars[0] == "0" and max(road_counts.column("cars").to_pylist()) >= 2
    assert any("." in tick for tick in brightness)  # a float column keeps its decimals


def test_a_boolean_is_shaded_true_and_false_bands(road_counts: pa.Table, tmp_path: Path) -> None:
    """The True band's share of the panel is the share of time the value is True."""
    import pyarrow.compute as pc

    target = tmp_path / "busy.png"
    busy = pc.greater_equal(road_counts.column("cars"), 2)
    render_timeline(road_counts.select(["path", "ts"]).append_column("busy", busy), target)
    image = _read_image(target).astype(int)
    true = np.count_nonzero(np.abs(image - (31, 119, 180)).max(axis=2) <= 3)  # C0
    false = np.count_nonzero(np.abs(image - 219).max(axis=2) <= 3)  # '0.86' grey
    share = sum(busy.to_pylist()) / len(busy)
    assert 0.1 < share < 0.5 and true + false > 100_000  # bands, not a line
    assert true / (true + false) == pytest.approx(share, abs=0.02)


def test_a_timeline_has_a_panel_per_value_and_marks_filled_frames(
        road: vql.Connection, road_counts: pa.Table, tmp_path: Path) -> None:
    target = tmp_path / "road.png"
    (_, kind, points), = road.execute(
        f"RENDER TIMELINE '{target}' AS SELECT path, ts, brightness AS light, "
        "brightness > 0.4 AS bright FROM intersection").fetchall()
    assert kind == "timeline" and points == 377
    image = _read_image(target)
    assert image.shape == (2 * 220 + 80, 1200, 3)
    result = road_counts.select(["path", "ts", "cars"])

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
    with pytest.raises(vql.ProgrammingError, match=r"cannot render to .*\.mp4, \.gif, \.avi"):
        road.execute(f"RENDER '{tmp_path / 'x.webm'}' AS SELECT path, frame_id FROM intersection")
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
