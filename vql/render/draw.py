"""Drawing a query's row onto its frame: detection boxes with labels, the frame's place in its
video, and the row's other values."""

from __future__ import annotations

import typing as t
from collections.abc import Sequence
from pathlib import Path

import numpy as np

BOX_COLOUR = (255, 64, 0)       # RGB: boxes and their label backgrounds
TEXT_COLOUR = (255, 255, 255)
PANEL_COLOUR = (0, 0, 0)
# Row columns that say where the frame is (shown in the header), not drawn as values.
PLACE_COLUMNS = ("path", "video_id", "frame_id", "ts", "video_path", "result_row")


def is_detection_list(value: t.Any) -> bool:
    """Whether a value looks like detect()'s output: a list of {label, x1, y1, x2, y2, ...}."""
    return isinstance(value, list) and all(
        isinstance(d, dict) and {"x1", "y1", "x2", "y2"} <= d.keys() for d in value)


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float,
          colour: tuple[int, int, int], background: tuple[int, int, int] | None = None) -> None:
    import cv2

    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 2))
    (width, height), base = cv2.getTextSize(text, font, scale, thickness)
    x, y = origin
    if background is not None:
        cv2.rectangle(image, (x, y - height - base), (x + width + 4, y + base), background, -1)
    cv2.putText(image, text, (x + 2, y), font, scale, colour, thickness, cv2.LINE_AA)


def annotate(frame: np.ndarray, row: dict[str, t.Any], columns: Sequence[str]) -> np.ndarray:
    """A copy of ``frame`` (RGB) with the row drawn on it: boxes of every detection-list
    column, a header (file, frame, time) and one line per other column."""
    import cv2

    image = np.ascontiguousarray(frame).copy()
    height, width = image.shape[:2]
    scale = max(0.4, min(width, height) / 900)
    thickness = max(1, round(min(width, height) / 300))
    lines = []
    for name in columns:
        value = row.get(name)
        if name in PLACE_COLUMNS:
            continue
        if is_detection_list(value):
            assert isinstance(value, list)
            for found in value:
                top_left = (round(found["x1"]), round(found["y1"]))
                cv2.rectangle(image, top_left, (round(found["x2"]), round(found["y2"])),
                              BOX_COLOUR, thickness)
                score = found.get("score")
                label = str(found.get("label", ""))
                if score is not None:
                    label += f" {score:.2f}"
                _text(image, label, (top_left[0], max(top_left[1] - 4, 16)), scale * 0.8,
                      TEXT_COLOUR, BOX_COLOUR)
            lines.append(f"{name}: {len(value)} found")
        else:
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            lines.append(f"{name} = {shown}")
    header = []
    if row.get("path") or row.get("video_path"):
        header.append(Path(str(row.get("path") or row.get("video_path"))).name)
    if row.get("frame_id") is not None:
        header.append(f"frame {row['frame_id']}")
    if row.get("ts") is not None:
        header.append(f"{float(row['ts']):.2f} s")
    step = round(30 * scale) + 6
    for i, text in enumerate([" | ".join(header), *lines]):
        if text:
            _text(image, text, (6, step * (i + 1)), scale, TEXT_COLOUR, PANEL_COLOUR)
    return image
