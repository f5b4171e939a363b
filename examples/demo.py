"""`make demo`: load a video and ask it questions in SQL that make sense for that video.

    python examples/demo.py [--offline] [VIDEO]

Which video, first found first:

1. VIDEO, when given: what it looks like second by second (brightness, how much the picture
   changes, and what the detector sees when its weights are at hand).
2. The shared data ($VQL_SHARED, default ../shared): the overhead road (when cars pass, and
   when two are in view at once: ``congested``) and the room (when someone is in it: the
   FastestDet detector).
3. Online (not with --offline): the same road video, fetched once from its public source
   (intel-iot-devkit/sample-videos, CC BY 4.0), checked by SHA-256 and kept in
   ~/.cache/vql/samples ($XDG_CACHE_HOME/vql/samples); the road questions.
4. Otherwise, offline without the shared data, so without detector weights: a clip made here
   by moving a camera over ultralytics' bus.jpg, asked what its pixels can answer: when the
   camera moves (``motion``) and when the bus's blue paint covers a good part of the view
   (``blue_share``, the function defined below), then both against the camera's own log.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

import vql

REPO = Path(__file__).resolve().parents[1]

ROAD_VIDEO = "car-detection.mp4"
ROOM_VIDEO = "one-by-one-person-detection.mp4"
# The road video at a fixed commit of its public repository, and its SHA-256 (the same file as
# the shared data's copy: what it holds was labelled by eye in tests/labels/road_vehicles.csv).
SAMPLE_SOURCE = "github.com/intel-iot-devkit/sample-videos"
SAMPLE_URL = ("https://raw.githubusercontent.com/intel-iot-devkit/sample-videos/"
              "57978890822836f2b4743852f04f62fc511757e4/" + ROAD_VIDEO)
SAMPLE_SHA256 = "d31e0ebf194cc16e50eea784e7c3b0b1bb7976a4fb9b3fec26cb92a6704cca34"
SAMPLE_MAX_BYTES = 10 * 2**20  # the file is 2.8 MB; anything much larger is not it
DOWNLOAD_TIMEOUT_S = 10.0
CREDIT = "Intel IoT Developer Kit sample video, CC BY 4.0"

# A pixel is "clearly blue" when its blue channel exceeds both others by more than this (0-255):
# the bus's paint in bus.jpg reads (1, 74, 143) to (20, 60, 121); the yellow wall, the grey
# pavement and its blue-grey shadows stay below it (checked on a mask of the whole photo).
BLUE_MARGIN = 40


@vql.udf(inputs=["frame"], returns=pa.float64(), cost_ms=0.5)
def blue_share(frames: np.ndarray) -> np.ndarray:
    """Share of the frame's pixels that are clearly blue (blue above red and green by more
    than 40 of 255)."""
    pixels = frames.astype(np.int16)
    blue = pixels[..., 2] - np.maximum(pixels[..., 0], pixels[..., 1]) > BLUE_MARGIN
    return blue.reshape(len(frames), -1).mean(axis=1)


@dataclass(frozen=True)
class Question:
    """A question in words and the SQL that answers it."""

    ask: str
    sql: str


@dataclass(frozen=True)
class Statement:
    """A statement run before the questions (shown, not asked); ``rows``: run once per row,
    as executemany, and shown once with ``note``."""

    sql: str
    params: Sequence[object] = ()
    rows: Sequence[Sequence[object]] = ()
    note: str = ""


@dataclass(frozen=True)
class Scene:
    """One video: a line saying what it is, a table holding it, and questions for it."""

    about: str
    table: str
    video: Path
    questions: tuple[Question, ...]
    setup: tuple[Statement, ...] = field(default=())


# --- the questions ---------------------------------------------------------------------------


def runs_of(condition: str, source: str, columns: str) -> str:
    """SQL numbering the runs of consecutive rows of ``source`` where ``condition`` (over
    ``columns``) holds or not (gaps and islands): rows of one run share ``run``."""
    return (f"WITH rows AS (\n  SELECT frame_id, ts, {columns} FROM {source}\n), runs AS (\n"
            f"  SELECT *, row_number() OVER (ORDER BY frame_id)\n"
            f"           - row_number() OVER (PARTITION BY {condition} ORDER BY frame_id) AS run\n"
            "  FROM rows\n)\n")


ROAD_QUESTIONS = (Question(
    "When do cars pass, and when are two or more in view at once (congested)?",
    runs_of("vehicle_count > 0", "road", "vehicle_count, congested")
    + "SELECT round(min(ts), 1) AS from_s, round(max(ts), 1) AS to_s,\n"
      "       max(vehicle_count) AS most_vehicles,\n"
      "       round(min(ts) FILTER (WHERE congested), 1) AS congested_from_s,\n"
      "       round(max(ts) FILTER (WHERE congested), 1) AS congested_to_s\n"
      "FROM runs WHERE vehicle_count > 0 GROUP BY run ORDER BY from_s"),)

# A visit starts with a person seen after two seconds (four samples) of nobody, so that a frame
# where the detector misses someone (it does, for a frame or two, on people at the edge) does
# not split a visit in two.
ROOM_QUESTIONS = (Question(
    "When is someone in the room? (the detector on two frames a second; a visit ends after "
    "two seconds of nobody)",
    "WITH seen AS (\n"
    "  SELECT frame_id, ts, has_object(frame, 'person') AS person FROM room\n"
    "), starts AS (\n"
    "  SELECT *, person AND NOT coalesce(bool_or(person) OVER (ORDER BY frame_id\n"
    "            ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING), false) AS arrives\n"
    "  FROM seen\n"
    "), visits AS (\n"
    "  SELECT *, sum(arrives::INT) OVER (ORDER BY frame_id) AS visit FROM starts\n"
    ")\n"
    "SELECT visit, round(min(ts), 1) AS first_seen_s, round(max(ts), 1) AS last_seen_s\n"
    "FROM visits WHERE person GROUP BY visit ORDER BY visit\n"
    "SAMPLE 2 FPS"),)

# motion is the share of pixels that changed since the previous frame: about 0 while the
# camera holds still, 0.38-0.55 while it moves (measured on the clip).
MOVING = 0.05
# The bus's blue paint covers about a quarter of the view of its side, under 0.07 while only
# its roof and windows are in view (measured on the clip).
BLUE_IN_VIEW = 0.1

BUS_QUESTIONS = (
    Question(
        f"When does the camera move? (in a photo nothing else can; motion > {MOVING}: more "
        "than a twentieth of the pixels changed since the frame before)",
        runs_of("moving", "clip", f"motion > {MOVING} AS moving")
        + "SELECT CASE WHEN moving THEN 'moving' ELSE 'still' END AS camera,\n"
          "       min(frame_id) AS first_frame, max(frame_id) AS last_frame,\n"
          "       round(min(ts), 1) AS from_s, round(max(ts), 1) AS to_s\n"
          "FROM runs GROUP BY moving, run ORDER BY first_frame"),
    Question(
        "When does the bus's blue paint cover a good part of the view? (blue_share >= "
        f"{BLUE_IN_VIEW}: a tenth of the pixels or more clearly blue)",
        runs_of(f"blue_share >= {BLUE_IN_VIEW}", "clip", "blue_share")
        + "SELECT min(frame_id) AS first_frame, max(frame_id) AS last_frame,\n"
          "       round(min(ts), 1) AS from_s, round(max(ts), 1) AS to_s,\n"
          "       round(max(blue_share), 2) AS most_blue\n"
          f"FROM runs WHERE blue_share >= {BLUE_IN_VIEW} GROUP BY run ORDER BY first_frame"),
    Question(
        "Check against the camera's own log: each shot with its mean motion and blue share",
        "SELECT shot, first_frame, last_frame, round(avg(motion), 2) AS motion,\n"
        "       round(avg(blue_share), 2) AS blue_share\n"
        "FROM clip JOIN camera_log ON frame_id BETWEEN first_frame AND last_frame\n"
        "GROUP BY ALL ORDER BY first_frame"),
)


def own_questions(detector: bool) -> tuple[Question, ...]:
    seen = (",\n       list_sort(list_distinct(list_transform(detect(frame), lambda d: d.label)))"
            " AS detected") if detector else ""
    return (Question(
        "What does it look like, one frame per second? (motion: the share of pixels changed "
        "since the frame before, a second earlier)",
        "SELECT frame_id, round(ts, 1) AS ts, round(brightness, 3) AS brightness,\n"
        f"       round(motion, 3) AS motion{seen}\nFROM clip SAMPLE 1 FPS"),)


# --- the videos ------------------------------------------------------------------------------


def shared_folder() -> Path:
    return Path(os.environ.get("VQL_SHARED") or REPO.parent / "shared")


def has_detector() -> bool:
    from vql.settings import Settings

    return Settings.from_env().find_model("FastestDet.onnx") is not None


def road_scene(video: Path, origin: str) -> Scene:
    return Scene(f"{ROAD_VIDEO}: a fixed camera looks down on a road for 30 s while four cars "
                 f"drive through, two of them side by side ({CREDIT}; {origin})",
                 "road", video, ROAD_QUESTIONS)


def room_scene(video: Path) -> Scene:
    return Scene(f"{ROOM_VIDEO}: a fixed camera on a room for 139 s; six people come in one "
                 f"at a time, stand at the table and leave ({CREDIT}; from the shared data)",
                 "room", video, ROOM_QUESTIONS)


def bus_scene(workdir: Path) -> Scene:
    from vql.video.synthetic import BUS_TOUR, camera_tour_clip, describe

    tour = camera_tour_clip(workdir / "bus-tour.mp4", BUS_TOUR)
    here = os.path.relpath(Path(__file__).resolve())
    return Scene(
        f"Clip: {tour.seconds:g} s made just now from ultralytics' bus.jpg (a street photo: a "
        f"blue electric bus, people in front of it); the camera {describe(BUS_TOUR)}",
        "clip", tour.path, BUS_QUESTIONS, setup=(
            Statement("CREATE FUNCTION blue_share FROM ?", (here,)),
            Statement("CREATE TABLE camera_log (first_frame INTEGER, last_frame INTEGER, "
                      "shot VARCHAR)"),
            Statement("INSERT INTO camera_log VALUES (?, ?, ?)", rows=tour.shots(),
                      note=f"{len(tour.shots())} rows: the shots the clip was made of"),
        ))


def fetch_sample(url: str, sha256: str, target: Path) -> Path:
    """``target``, downloaded from ``url`` unless it is there already with this SHA-256.
    Raises OSError when it cannot be fetched, ValueError when what came is not that file."""
    if target.is_file() and _sha256(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                partial.open("wb") as out:
            while chunk := response.read(2**16):
                out.write(chunk)
                if out.tell() > SAMPLE_MAX_BYTES:
                    raise ValueError(f"{url} sends more than {SAMPLE_MAX_BYTES} bytes")
        if _sha256(partial) != sha256:
            raise ValueError(f"{url} is not the expected file (its SHA-256 differs)")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sample_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vql" / "samples"


def pick_scenes(video: Path | None, offline: bool, workdir: Path) -> tuple[str, list[Scene]]:
    """The scenes to show, and a line saying why these."""
    if video is not None:
        return "the video you gave", [Scene(
            f"{video.name}: the video you gave", "clip", video, own_questions(has_detector()))]
    videos = shared_folder() / "data" / "videos"
    if (videos / ROAD_VIDEO).is_file():
        scenes = [road_scene(videos / ROAD_VIDEO, "from the shared data")]
        if (videos / ROOM_VIDEO).is_file() and has_detector():
            scenes.append(room_scene(videos / ROOM_VIDEO))
        return f"shared data found in {videos.parent.parent}", scenes
    if not offline:
        try:
            road = fetch_sample(SAMPLE_URL, SAMPLE_SHA256, sample_cache() / ROAD_VIDEO)
            return (f"no shared data in {shared_folder()}; the road video comes from its "
                    f"public source (downloaded once into {road.parent})",
                    [road_scene(road, f"from {SAMPLE_SOURCE}")])
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = f"cannot fetch the sample video ({getattr(error, 'reason', error)})"
    else:
        reason = "--offline was given"
    return (f"no shared data in {shared_folder()} and {reason}, so no real video and no "
            "detector weights: the questions below read the pixels of a clip made from a photo "
            "(with the shared data, or online, the demo asks real videos)", [bus_scene(workdir)])


# --- running ---------------------------------------------------------------------------------


def show(cursor: vql.Cursor, question: Question) -> None:
    from vql.shell import format as fmt

    print(f"\n-- {question.ask}")
    echo(question.sql)
    started = time.perf_counter()
    cursor.execute(question.sql)
    rows, total = fmt.window(cursor)
    notes(cursor)
    print(fmt.table([d[0] for d in cursor.description or ()], rows, total))
    print(f"Run Time: {time.perf_counter() - started:.2f} s")


def echo(sql: str, note: str = "") -> None:
    lines = sql.splitlines()
    text = "\n".join(["vql> " + lines[0], *("   > " + line for line in lines[1:])]) + ";"
    print(text + (f"   -- {note}" if note else ""))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def notes(cursor: vql.Cursor) -> None:
    for _, message in cursor.messages:
        print(f"Note: {message}")


def run_scene(con: vql.Connection, scene: Scene) -> None:
    print(f"\n{scene.about}")
    cur = con.cursor()
    load = Statement(f"LOAD VIDEO ? INTO {scene.table}", (str(scene.video),))
    for step in (load, *scene.setup):
        shown = step.sql.replace("?", _literal(str(step.params[0]))) if step.params else step.sql
        echo(shown, step.note)
        if step.rows:
            cur.executemany(step.sql, step.rows)
        else:
            cur.execute(step.sql, step.params)
    for question in scene.questions:
        show(cur, question)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("video", nargs="?", type=Path, help="a video of yours")
    parser.add_argument("--offline", action="store_true",
                        help="never download the sample video")
    args = parser.parse_args(argv)
    # Notes reach the user once, from cursor.messages (notes()), not twice.
    for category in (vql.FallbackWarning, vql.DamagedVideoWarning, vql.TargetNotOptimizedWarning):
        warnings.simplefilter("ignore", category)
    with tempfile.TemporaryDirectory() as tmp:
        why, scenes = pick_scenes(args.video, args.offline, Path(tmp))
        print(f"VQL demo: {why}.")
        with vql.connect(":memory:") as con:
            for scene in scenes:
                run_scene(con, scene)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except vql.Error as error:
        from vql.shell import format as fmt

        print(fmt.error(error), file=sys.stderr)
        sys.exit(1)
    except FileNotFoundError as error:  # offline, no shared data, no yolo extra for bus.jpg
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
