"""`make demo` asks each video a question that makes sense for it, and its answers agree with
labels made by eye: the bus.jpg clip offline without the shared data (tests/labels/bus_tour.csv),
the road and the room with the shared data (tests/labels/road_vehicles.csv, room_people.csv)."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo.py"
LABELS = REPO / "tests" / "labels"

Row = dict[str, str]


def run_demo(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, str(DEMO), *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def answer(out: str, question: str) -> list[Row]:
    """The table printed after the line '-- <question>...' (the rows, as dicts)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"-- {question}"))
    top = next(i for i in range(start, len(lines)) if lines[i].startswith("+"))
    header = [c.strip() for c in lines[top + 1].strip("|").split("|")]
    rows = []
    for line in lines[top + 3:]:
        if line.startswith("+"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")))))
    return rows


def read_labels(name: str) -> list[Row]:
    with (LABELS / name).open() as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def per_frame(labels: list[Row], column: str) -> dict[int, str]:
    return {frame: row[column] for row in labels
            for frame in range(int(row["first_frame"]), int(row["last_frame"]) + 1)}


def frames_in(rows: list[Row]) -> set[int]:
    return {f for row in rows for f in range(int(row["first_frame"]), int(row["last_frame"]) + 1)}


@pytest.fixture
def no_shared(tmp_path: Path) -> dict[str, str]:
    """A newcomer's machine: no shared data, no sample video cached."""
    return dict(os.environ, VQL_SHARED=str(tmp_path / "no-shared-here"),
                XDG_CACHE_HOME=str(tmp_path / "cache"), VQL_MODEL_PATH=str(tmp_path / "models"))


# --- offline, without the shared data: the bus.jpg clip ----------------------------------------


@pytest.fixture(scope="module")
def bus_demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("bus-demo")
    env = dict(os.environ, VQL_SHARED=str(tmp / "no-shared-here"),
               XDG_CACHE_HOME=str(tmp / "cache"), VQL_MODEL_PATH=str(tmp / "models"))
    return run_demo(env, "--offline")


def test_offline_demo_says_in_one_line_what_its_clip_is(bus_demo: str) -> None:
    assert ("\nClip: 7 s made just now from ultralytics' bus.jpg (a street photo: a blue electric "
            "bus, people in front of it); the camera holds on the building (1 s), tilts down to "
            "the blue side of the bus (2 s), holds (1 s), tilts down to the pavement (2 s), "
            "holds (1 s)\n") in bus_demo
    assert "no real video and no detector weights" in bus_demo
    # Nothing about traffic is asked of a photo: the camera's own motion is not congestion.
    assert "congested" not in bus_demo and "vehicle" not in bus_demo


def test_offline_demo_finds_when_the_camera_moves(bus_demo: str) -> None:
    rows = answer(bus_demo, "When does the camera move?")
    truth = per_frame(read_labels("bus_tour.csv"), "camera")
    said = {f: row["camera"] for row in rows
            for f in range(int(row["first_frame"]), int(row["last_frame"]) + 1)}
    assert said == truth
    assert [row["camera"] for row in rows] == ["still", "moving", "still", "moving", "still"]


def test_offline_demo_finds_the_buses_blue_paint(bus_demo: str) -> None:
    rows = answer(bus_demo, "When does the bus's blue paint cover a good part of the view?")
    truth = per_frame(read_labels("bus_tour.csv"), "blue_paint")
    said = frames_in(rows)
    assert {f for f, v in truth.items() if v == "large"} <= said
    assert not {f for f, v in truth.items() if v == "none"} & said
    assert len(rows) == 1  # one stretch: the camera passes the bus once


def test_offline_demo_checks_itself_against_the_clips_log(bus_demo: str) -> None:
    rows = answer(bus_demo, "Check against the camera's own log")
    labels = read_labels("bus_tour.csv")
    camera, paint = per_frame(labels, "camera"), per_frame(labels, "blue_paint")
    assert len(rows) == 5
    for row in rows:
        frames = range(int(row["first_frame"]), int(row["last_frame"]) + 1)
        states = {camera[f] for f in frames}
        assert states == ({"moving"} if "->" in row["shot"] else {"still"}), row
        if states == {"still"}:
            assert float(row["motion"]) == 0, row
        else:
            assert float(row["motion"]) > 0.3, row
        if {paint[f] for f in frames} == {"none"}:
            assert float(row["blue_share"]) == 0, row
    held_on_bus = next(r for r in rows if r["shot"] == "the blue side of the bus")
    assert float(held_on_bus["blue_share"]) > 0.2


def test_a_sample_that_cannot_be_fetched_falls_back_to_the_clip(
        tmp_path: Path, no_shared: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    demo = load_demo()
    for name in ("VQL_SHARED", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, no_shared[name])
    monkeypatch.setattr(demo, "SAMPLE_URL", (tmp_path / "nowhere.mp4").as_uri())
    why, scenes = demo.pick_scenes(None, offline=False, workdir=tmp_path)
    assert "cannot fetch the sample video" in why
    assert [s.table for s in scenes] == ["clip"]
    assert not any((tmp_path / "cache").rglob("*.mp4*"))


# --- online, without the shared data: the road video fetched from its source ------------------


def load_demo() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("vql_demo_under_test", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    return module


def test_the_fetched_sample_is_checked_and_kept(
        tmp_path: Path, road_video: Path, no_shared: dict[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The download path with a file:// URL standing in for GitHub (no internet here): the
    road video, checked by SHA-256, kept in the cache and used from there next time."""
    demo = load_demo()
    for name in ("VQL_SHARED", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, no_shared[name])
    source = tmp_path / "mirror" / "car-detection.mp4"
    source.parent.mkdir()
    source.write_bytes(road_video.read_bytes())
    monkeypatch.setattr(demo, "SAMPLE_URL", source.as_uri())
    why, scenes = demo.pick_scenes(None, offline=False, workdir=tmp_path)
    kept = tmp_path / "cache" / "vql" / "samples" / "car-detection.mp4"
    assert "comes from its public source" in why
    assert [(s.table, s.video) for s in scenes] == [("road", kept)]
    source.unlink()  # from now on the cached copy is used
    assert demo.pick_scenes(None, offline=False, workdir=tmp_path)[1][0].video == kept


def test_a_fetched_file_that_is_not_the_sample_is_refused(tmp_path: Path) -> None:
    demo = load_demo()
    wrong = tmp_path / "wrong.mp4"
    wrong.write_bytes(b"<html>a captive portal's page, not the video</html>")
    target = tmp_path / "cache" / "car-detection.mp4"
    with pytest.raises(ValueError, match="SHA-256 differs"):
        demo.fetch_sample(wrong.as_uri(), demo.SAMPLE_SHA256, target)
    assert list(target.parent.iterdir()) == []


# --- with the shared data: the road and the room -----------------------------------------------


def seconds(row: Row, column: str) -> float:
    return float(row[column])


@pytest.mark.slow
def test_demo_with_shared_data_asks_the_road_and_the_room(
        road_video: Path, room_video: Path, fastestdet_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ, VQL_SHARED=str(road_video.parents[2]),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = run_demo(env)
    assert "\ncar-detection.mp4: a fixed camera looks down on a road" in out
    assert "\none-by-one-person-detection.mp4: a fixed camera on a room" in out

    # The road (12.5 fps): each stretch with a vehicle in view starts between the frame where a
    # car first shows and the frame where half of it is in (and ends likewise); congested
    # (two in view) lies where cars 2 and 3 are both in view. Seconds are rounded to 0.1.
    road = answer(out, "When do cars pass")
    cars = {int(r["vehicle"]): r for r in read_labels("road_vehicles.csv")}
    groups = [(cars[1], cars[1]), (cars[2], cars[3]), (cars[4], cars[4])]
    assert len(road) == len(groups)
    fps, slack = 12.5, 0.05
    for row, (first, last) in zip(road, groups):
        assert int(first["first_any"]) / fps - slack <= seconds(row, "from_s") \
            <= int(first["first_half"]) / fps + slack, row
        assert int(last["last_half"]) / fps - slack <= seconds(row, "to_s") \
            <= int(last["last_any"]) / fps + slack, row
    assert [r["most_vehicles"] for r in road] == ["1", "2", "1"]
    congested = road[1]
    assert int(cars[3]["first_any"]) / fps - slack <= seconds(congested, "congested_from_s") \
        <= int(cars[3]["first_half"]) / fps + slack
    assert int(cars[2]["last_half"]) / fps - slack <= seconds(congested, "congested_to_s") \
        <= int(cars[2]["last_any"]) / fps + slack
    assert road[0]["congested_from_s"] == road[2]["congested_from_s"] == "NULL"

    # The room (10 fps, two samples a second): one row per visit, each within a sample (0.5 s)
    # of the labelled entrance and exit.
    room = answer(out, "When is someone in the room?")
    visits = read_labels("room_people.csv")
    assert len(room) == len(visits)
    step = 0.5
    for row, visit in zip(room, visits):
        assert int(visit["first_any"]) / 10 - step <= seconds(row, "first_seen_s") \
            <= int(visit["first_half"]) / 10 + step, (row, visit)
        assert int(visit["last_half"]) / 10 - step <= seconds(row, "last_seen_s") \
            <= int(visit["last_any"]) / 10 + step, (row, visit)


def test_demo_on_a_video_of_yours(tmp_path: Path, no_shared: dict[str, str]) -> None:
    from vql.video.synthetic import BUS_TOUR, camera_tour_clip

    clip = camera_tour_clip(tmp_path / "mine.mp4", BUS_TOUR)
    out = run_demo(no_shared, "--offline", str(clip.path))
    assert "\nmine.mp4: the video you gave\n" in out
    rows = answer(out, "What does it look like, one frame per second?")
    assert [row["frame_id"] for row in rows] == [str(f) for f in range(0, 70, 10)]
    assert "detected" not in rows[0]  # no detector weights on this machine's model path
