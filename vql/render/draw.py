"""Drawing a query's row onto its frame: detection boxes with labels, each class in its own
colour (each track in its own, with a trail behind it, for ``track``'s lists), and a header
(the frame's place in its video and the row's other values).

The header goes on a strip *above* the frame, never on it. A band drawn over the frame
(even a semi-transparent one) tints whatever is under it, and moving it to the corner with
the fewest boxes fails on the frames that matter most: a crowd, a car filling the view. On
its own strip it can hide nothing, and the frame's pixels stay the video's own except for
the boxes and their labels. The strip's height depends only on the frame size and the
number of columns, so every frame of a clip has the same size."""

from __future__ import annotations

import typing as t
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vql.render.shapes import Shapes, draw_shapes

RGB = tuple[int, int, int]
TEXT_COLOUR: RGB = (255, 255, 255)
STRIP_COLOUR: RGB = (24, 24, 24)
# Row columns that say where the frame is (shown in the header), not drawn as values.
PLACE_COLUMNS = ("path", "video_id", "frame_id", "ts", "video_path", "result_row")

# The 20 box colours of ultralytics' plots (saturated, so they show on light and dark
# scenes alike), reordered so that neighbours differ most: red, green, blue, amber, ...
PALETTE: tuple[RGB, ...] = tuple(
    (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)) for h in (
        "FF3838", "48F90A", "0018EC", "FFB21D", "CB38FF", "00C2FF", "FF701F", "1A9334",
        "FF37C7", "CFD231", "344593", "00D4BB", "8438FF", "FF9D97", "92CC17", "520085",
        "2C99A8", "6473FF", "3DDB86", "FF95C8"))
# The classes seen most often together each get a colour no other of them has; any other
# label takes a palette colour from a hash of its name (zlib's, the same in every process,
# unlike Python's hash()), so a label has one colour in every frame and every clip.
COMMON_LABELS = ("person", "car", "truck", "bus", "bicycle", "motorcycle", "dog", "cat",
                 "chair", "couch", "dining table", "tv", "laptop", "bottle", "cup",
                 "cell phone", "backpack", "handbag", "traffic light", "bird")


def class_colour(label: str) -> RGB:
    """The colour of a detection label's boxes: the same for the same label, everywhere."""
    name = label.strip().lower()
    if name in COMMON_LABELS:
        return PALETTE[COMMON_LABELS.index(name)]
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


def track_colour(track_id: int | str) -> RGB:
    """The colour of one track's boxes and trail: the same in every frame of a video, and
    neighbouring ids (objects that appear one after the other) in the most different colours."""
    if isinstance(track_id, int | np.integer):
        return PALETTE[int(track_id) % len(PALETTE)]
    return PALETTE[zlib.crc32(str(track_id).encode()) % len(PALETTE)]  # an id that is a name


def text_colour_on(background: RGB) -> RGB:
    """Black on light colours, white on dark ones (relative luminance, ITU-R BT.709)."""
    red, green, blue = background
    return (0, 0, 0) if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140 else TEXT_COLOUR


@dataclass(frozen=True, slots=True)
class Style:
    """Sizes for one frame size: text and lines grow with the frame, so that a box and its
    label are as easy to see at 1920x1080 as at 768x432."""

    font_scale: float     # OpenCV's Hershey font scale of the header
    text_thickness: int
    box_thickness: int
    line_height: int      # one header line, in pixels

    @classmethod
    def for_size(cls, width: int, height: int) -> Style:
        """The style of a ``width`` x ``height`` frame, scaled to its shorter side."""
        short = min(width, height)
        font_scale = max(0.45, short / 850)
        return cls(font_scale=font_scale, text_thickness=max(1, round(font_scale * 1.6)),
                   box_thickness=max(2, round(short / 150)),
                   line_height=round(30 * font_scale) + 4)

    def strip_height(self, lines: int) -> int:
        """The header strip for ``lines`` lines, rounded up to an even number of pixels
        (H.264 in 4:2:0 needs even frame sizes)."""
        height = self.line_height * lines + self.line_height // 3
        return height + height % 2


def is_detection_list(value: t.Any) -> bool:
    """Whether a value looks like detect()'s output: a list of {label, x1, y1, x2, y2, ...}."""
    return isinstance(value, list) and all(
        isinstance(d, dict) and {"x1", "y1", "x2", "y2"} <= d.keys() for d in value)


def is_track_list(value: t.Any) -> bool:
    """Whether a value is track()'s output: a detection list whose objects have a ``track_id``
    (an empty list is not: it has nothing to follow)."""
    return bool(value) and is_detection_list(value) and all(
        d.get("track_id") is not None for d in value)


def _colour_of(detection: Mapping[str, t.Any]) -> RGB:
    """A tracked object's colour is its track's, any other detection's its class's."""
    if detection.get("track_id") is not None:
        return track_colour(detection["track_id"])
    return class_colour(str(detection.get("label", "")))


# A tracked object's trail: the bottom centres of its boxes over this many frames of its video.
TRAIL_FRAMES = 30
Point = tuple[float, float]


class Trails:
    """Where each tracked object was over the last ``frames`` frames, per column and video:
    the state a clip keeps to draw a trail behind each object (rows only hold the present)."""

    def __init__(self, frames: int = TRAIL_FRAMES):
        self.frames = frames
        # (column, video) -> track id -> [(frame_id, x, y)], oldest first
        self.seen: dict[tuple[str, str], dict[t.Any, list[tuple[int, float, float]]]] = {}

    def follow(self, column: str, video: str, frame_id: int,
               found: Sequence[Mapping[str, t.Any]]) -> dict[t.Any, list[Point]]:
        """Record the bottom centres of the tracked objects in this frame, and return each
        one's trail (oldest first, ending where its box is now). A frame before the last one
        seen (the clip went back) starts the video's trails anew."""
        tracks = self.seen.setdefault((column, video), {})
        if any(points[-1][0] > frame_id for points in tracks.values()):
            tracks.clear()
        for detection in found:
            if detection.get("track_id") is None:
                continue
            points = tracks.setdefault(detection["track_id"], [])
            if points and points[-1][0] == frame_id:
                points.pop()  # the same frame twice: its latest box
            points.append((frame_id, (detection["x1"] + detection["x2"]) / 2, detection["y2"]))
        self._forget(tracks, frame_id)
        return {d["track_id"]: [(x, y) for _, x, y in tracks[d["track_id"]]]
                for d in found if d.get("track_id") is not None}

    def _forget(self, tracks: dict[t.Any, list[tuple[int, float, float]]], frame_id: int) -> None:
        """Drop the points older than the window, and the tracks left without any."""
        for track_id in list(tracks):
            tracks[track_id] = [p for p in tracks[track_id] if p[0] > frame_id - self.frames]
            if not tracks[track_id]:
                del tracks[track_id]


def value_columns(columns: Sequence[str]) -> list[str]:
    """The columns shown as values, one header line each (the frame's place is the first)."""
    return [name for name in columns if name not in PLACE_COLUMNS]


def header_height(width: int, height: int, columns: Sequence[str]) -> int:
    """How many pixels the header strip adds above a frame of this size."""
    return Style.for_size(width, height).strip_height(1 + len(value_columns(columns)))


def annotate(frame: np.ndarray, row: dict[str, t.Any], columns: Sequence[str],
             box_scale: tuple[float, float] = (1.0, 1.0),
             trails: Trails | None = None, shapes: Shapes | None = None) -> np.ndarray:
    """``frame`` (RGB) under a header strip, with the row drawn: the boxes of every
    detection-list column on the frame, and above it the file, frame number and time, then
    one line per other column. ``box_scale`` (x, y) maps the detections' coordinates to
    ``frame`` when it was resized from the decoded frame. A tracked object (``track``'s lists)
    is drawn in its track's colour with its id, and, given the clip's ``trails``, with the
    path its box's bottom centre took over the last frames. ``shapes``: the query's lines and
    zones, drawn first (under the boxes)."""
    height, width = frame.shape[:2]
    style = Style.for_size(width, height)
    names = value_columns(columns)
    strip = np.empty((style.strip_height(1 + len(names)), width, 3), dtype=np.uint8)
    strip[:] = STRIP_COLOUR
    picture = np.ascontiguousarray(frame).copy()
    _write_line(strip, 0, style, [(_place(row), None)])
    if shapes:
        draw_shapes(picture, shapes, max(1, style.box_thickness - 1), style.font_scale,
                    box_scale)
    for line, name in enumerate(names, start=1):
        value = row.get(name)
        if is_detection_list(value):
            found = t.cast(list[dict[str, t.Any]], value)
            if trails is not None and is_track_list(found):
                video = str(row.get("path") or row.get("video_id") or "")
                _draw_trails(picture, trails.follow(name, video, int(row.get("frame_id") or 0),
                                                    found), style, box_scale)
            _draw_boxes(picture, found, style, box_scale)
        _write_line(strip, line, style, _segments(name, value))
    return np.concatenate([strip, picture])


def _place(row: dict[str, t.Any]) -> str:
    parts = []
    if row.get("path") or row.get("video_path"):
        parts.append(Path(str(row.get("path") or row.get("video_path"))).name)
    if row.get("frame_id") is not None:
        parts.append(f"frame {row['frame_id']}")
    if row.get("ts") is not None:
        parts.append(f"{float(row['ts']):.2f} s")
    return "  |  ".join(parts)


def _segments(name: str, value: t.Any) -> list[tuple[str, RGB | None]]:
    """A header line as (text, swatch colour or None) pieces: a detection list reads
    'objects: [] 2 person  [] 1 chair', each count after a square of its class colour; a
    list of tracked objects 'cars: 2 vehicle  [] #2  [] #3', each id after its track's."""
    if not is_detection_list(value):
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        return [(f"{name} = {shown}", None)]
    counts = Counter(str(d.get("label", "")) for d in value)
    if not counts:
        return [(f"{name}: nothing found", None)]
    if is_track_list(value):
        total = ", ".join(f"{n} {label}" for label, n in counts.most_common())
        return [(f"{name}: {total}", None)] + [
            (f"#{d['track_id']}", track_colour(d["track_id"]))
            for d in sorted(value, key=lambda d: str(d["track_id"]).zfill(20))]
    return [(f"{name}:", None)] + [(f"{n} {label}", class_colour(label))
                                   for label, n in counts.most_common()]


def _write_line(strip: np.ndarray, line: int, style: Style,
                segments: list[tuple[str, RGB | None]]) -> None:
    """Write one header line; text that does not fit the width ends in '...'."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    x, baseline = style.line_height // 3, style.line_height * (line + 1)
    (_, cap), _ = cv2.getTextSize("Ag", font, style.font_scale, style.text_thickness)
    gap = cap
    for text, swatch in segments:
        if swatch is not None:
            cv2.rectangle(strip, (x, baseline - cap), (x + cap, baseline), swatch, -1)
            x += cap + cap // 2
        text = _fitted(text, strip.shape[1] - x - gap, style)
        cv2.putText(strip, text, (x, baseline), font, style.font_scale, TEXT_COLOUR,
                    style.text_thickness, cv2.LINE_AA)
        x += _text_width(text, style.font_scale, style.text_thickness) + gap
        if x >= strip.shape[1]:
            return


def _text_width(text: str, scale: float, thickness: int) -> int:
    import cv2

    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    return int(width)


def _fitted(text: str, room: int, style: Style) -> str:
    if _text_width(text, style.font_scale, style.text_thickness) <= room:
        return text
    while text and _text_width(text + "...", style.font_scale, style.text_thickness) > room:
        text = text[:-1]
    return text + "..." if text else ""


def _draw_boxes(picture: np.ndarray, found: list[dict[str, t.Any]], style: Style,
                box_scale: tuple[float, float]) -> None:
    import cv2

    sx, sy = box_scale
    for detection in found:
        colour = _colour_of(detection)
        x1, y1 = round(detection["x1"] * sx), round(detection["y1"] * sy)
        x2, y2 = round(detection["x2"] * sx), round(detection["y2"] * sy)
        cv2.rectangle(picture, (x1, y1), (x2, y2), colour, style.box_thickness)
        _label(picture, detection, (x1, y1, x2), colour, style)


def _draw_trails(picture: np.ndarray, trails: dict[t.Any, list[Point]], style: Style,
                 box_scale: tuple[float, float]) -> None:
    """Each track's trail, a line through its last bottom centres in its colour, under the
    boxes (drawn after it) so that no trail hides a box or a label."""
    import cv2

    sx, sy = box_scale
    thickness = max(2, style.box_thickness - 1)
    for track_id, points in trails.items():
        if len(points) < 2:
            continue
        line = np.array([[round(x * sx), round(y * sy)] for x, y in points], dtype=np.int32)
        cv2.polylines(picture, [line], False, track_colour(track_id), thickness, cv2.LINE_AA)


def _label(picture: np.ndarray, detection: dict[str, t.Any], box: tuple[int, int, int],
           colour: RGB, style: Style) -> None:
    """The label ('person 0.87', a tracked object's '#3 vehicle 0.87') on the box's colour,
    just above the box's top edge; for a box at the top of the frame, just inside it."""
    import cv2

    text = str(detection.get("label", ""))
    if detection.get("track_id") is not None:
        text = f"#{detection['track_id']} {text}"
    if detection.get("score") is not None:
        text += f" {float(detection['score']):.2f}"
    scale = style.font_scale * 0.8
    thickness = max(1, round(scale * 1.6))
    (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x1, y1, _ = box
    half = style.box_thickness // 2
    label_height = height + base + 4
    top = y1 - half - label_height if y1 - half - label_height >= 0 else y1 + half + 1
    left = min(max(x1 - half, 0), max(picture.shape[1] - width - 6, 0))
    cv2.rectangle(picture, (left, top), (left + width + 6, top + label_height), colour, -1)
    cv2.putText(picture, text, (left + 3, top + height + 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                text_colour_on(colour), thickness, cv2.LINE_AA)
