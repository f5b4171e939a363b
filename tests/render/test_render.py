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
from vql.render import class_colour, draw, render_timeline, track_colour, writers
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


# --- tracks (issue 15) ------------------------------------------------------------------------

TRACKED = ("SELECT path, frame_id, track(frame, 'vehicle') AS cars FROM intersection "
           "WHERE frame_id BETWEEN 180 AND 230")


def _near(image: np.ndarray, x: float, y: float, colour: tuple[int, int, int],
          reach: int = 2, tolerance: int = 30) -> bool:
    """Whether a pixel within ``reach`` of (x, y) has ``colour`` (a trail is anti-aliased)."""
    height, width = image.shape[:2]
    x, y = min(max(round(x), 0), width - 1), min(max(round(y), 0), height - 1)
    patch = image[max(y - reach, 0):y + reach + 1, max(x - reach, 0):x + reach + 1].astype(int)
    return bool(np.any(np.abs(patch - colour).max(axis=2) <= tolerance))


def _clear_of_boxes(x: float, y: float, boxes: list[dict[str, float]], margin: int) -> bool:
    """Whether (x, y) is more than ``margin`` pixels from every box's outline and label (a
    trail is drawn under them, and inside a box)."""
    def near_box(b: dict[str, float]) -> bool:
        inside = b["x1"] - margin <= x <= b["x2"] + margin and b["y1"] - margin <= y <= \
            b["y2"] + margin
        deep = b["x1"] + margin < x < b["x2"] - margin and b["y1"] + margin < y < b["y2"] - margin
        label = b["x1"] - margin <= x <= b["x1"] + 170 and b["y1"] - 30 <= y <= b["y1"] + 30
        return (inside and not deep) or label

    return not any(near_box(b) for b in boxes)


def test_each_track_has_its_colour_and_a_trail(road: vql.Connection, tmp_path: Path,
                                                       road_video: Path) -> None:
    """Cars 2 and 3 pass each other: each box in its track's colour in every frame, and a
    line through where its bottom centre was in the frames before, which the video lacks."""
    import decord

    folder = tmp_path / "cars"
    road.execute(f"RENDER '{folder}' AS {TRACKED}").fetchall()
    rows = {frame_id: cars for _, frame_id, cars in road.execute(TRACKED).fetchall()}
    strip = header_height(768, 432, ["path", "frame_id", "cars"])
    images = {int(p.stem.rsplit("_", 1)[1]): _read_image(p)[strip:]
              for p in folder.glob("*.png")}
    assert sorted(images) == sorted(rows) == list(range(180, 231))
    both = [f for f, cars in rows.items() if len({c["track_id"] for c in cars}) == 2]
    assert len(both) > 20
    seen: dict[int, set[tuple[int, ...]]] = {}
    for frame_id in both:  # the middle of each box's left edge
        for car in rows[frame_id]:
            y = round((car["y1"] + car["y2"]) / 2)
            seen.setdefault(car["track_id"], set()).add(
                tuple(images[frame_id][y, round(car["x1"])]))
    assert len(seen) == 2 and all(len(colours) == 1 for colours in seen.values())  # stable
    assert [colours.pop() for colours in seen.values()] == [track_colour(i) for i in seen]
    assert track_colour(min(seen)) != track_colour(max(seen))
    checked: set[int] = set()
    originals = decord.VideoReader(str(road_video)).get_batch(both).asnumpy()
    for frame_id, original in zip(both, originals, strict=True):
        for car in rows[frame_id]:
            colour = track_colour(car["track_id"])
            before = [((c["x1"] + c["x2"]) / 2, min(c["y2"], 431))
                      for f in range(frame_id - 20, frame_id - 4) for c in rows.get(f, [])
                      if c["track_id"] == car["track_id"]]
            clear = [(x, y) for x, y in before if _clear_of_boxes(x, y, rows[frame_id], 8)]
            assert all(_near(images[frame_id], x, y, colour) for x, y in clear)  # the trail
            assert not any(_near(original, x, y, colour) for x, y in clear)  # not the road's
            checked.update([car["track_id"]] if len(clear) >= 3 else [])
    assert checked == set(seen)  # each car's trail, seen clear of the boxes


def test_a_trail_covers_the_last_30_frames_of_its_own_video() -> None:
    """A car moving right 10 px a frame: after 60 frames its trail reaches back 30 frames;
    the same track id in another video, or the clip going back, starts without one."""
    black = np.zeros((432, 768, 3), dtype=np.uint8)
    trails = draw.Trails()
    colour = track_colour(7)

    def drawn(video: str, frame_id: int, x: int) -> np.ndarray:
        car = {"track_id": 7, "label": "car", "score": 0.9, "x1": x - 20.0, "y1": 300.0,
               "x2": x + 20.0, "y2": 340.0}
        row = {"path": video, "frame_id": frame_id, "cars": [car]}
        image = annotate(black, row, list(row), trails=trails)
        return image[image.shape[0] - 432:]

    def trail_at(image: np.ndarray) -> np.ndarray:
        """The columns of the line y = 340 drawn in the track's colour."""
        return np.nonzero(np.abs(image[340].astype(int) - colour).max(axis=1) <= 30)[0]

    for frame_id in range(60):
        image = drawn("a.mp4", frame_id, 100 + 10 * frame_id)  # the box ends at x = 710
    columns = trail_at(image)
    assert 395 <= columns.min() <= 405 and columns.max() >= 700  # frames 30 to 59
    other = trail_at(drawn("b.mp4", 60, 100))
    assert other.min() >= 78 and other.max() <= 122  # only its box's bottom edge
    assert trail_at(drawn("a.mp4", 61, 720)).min() <= 420  # a.mp4's trail goes on
    back = trail_at(drawn("a.mp4", 10, 200))
    assert back.min() >= 178 and back.max() <= 222  # the clip went back: no trail


def test_a_result_of_tracks_is_a_gantt_chart(road: vql.Connection, tmp_path: Path) -> None:
    """The road's four cars: four bars, one lane each, the first seen on top, each from its
    first_ts to its last_ts on one time axis, labelled with its id and label."""
    target = tmp_path / "cars.png"
    query = "SELECT track_id, label, first_ts, last_ts FROM tracks(intersection, 'vehicle')"
    (_, kind, bars), = road.execute(f"RENDER TIMELINE '{target}' AS {query}").fetchall()
    tracks = road.execute(f"{query} ORDER BY first_ts").fetch_arrow_table()
    assert kind == "timeline" and bars == tracks.num_rows == 4
    image = _read_image(target)
    lanes = []
    for track_id, first, last in zip(*(tracks.column(c).to_pylist() for c in
                                        ("track_id", "first_ts", "last_ts")), strict=True):
        ys, xs = np.nonzero(np.all(image == track_colour(track_id), axis=2))
        assert ys.size > 500, track_id
        lanes.append((ys.min(), ys.max(), first, xs.min(), last, xs.max()))
    assert all(a[1] < b[0] for a, b in zip(lanes, lanes[1:]))  # apart, the earliest on top
    times = np.array([t for lane in lanes for t in (lane[2], lane[4])])
    pixels = np.array([x for lane in lanes for x in (lane[3], lane[5])])
    fit = np.polyval(np.polyfit(times, pixels, 1), times)
    assert np.abs(fit - pixels).max() <= 2  # one linear time axis: bars start and end on time
    render_timeline(tracks, tmp_path / "cars.svg")
    labels, = _y_tick_labels((tmp_path / "cars.svg").read_text())
    assert labels == [f"#{i} vehicle" for i in tracks.column("track_id").to_pylist()]


def test_tracks_of_several_videos_say_which_video(tmp_path: Path) -> None:
    """A bar per row with both times, the video named when there are several; without
    ``track_id`` the same columns are no Gantt chart."""
    table = pa.table({"video_id": [1, 2, 1], "track_id": [1, 1, 2],
                      "first_ts": [5.0, 2.0, None], "last_ts": [9.0, 3.5, 4.0]})
    assert render_timeline(table, tmp_path / "two.svg").items == 2
    labels, = _y_tick_labels((tmp_path / "two.svg").read_text())
    assert labels == ["video 2 #1", "video 1 #1"]
    with pytest.raises(vql.ProgrammingError, match="ts or frame_id"):
        render_timeline(table.drop_columns(["track_id"]), tmp_path / "no.svg")
