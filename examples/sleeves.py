"""A detector of your own feeding ``track``: the red sleeves of the arms that reach in to move
the bottles of the bottle video (FastestDet calls those arms, and some empty frames, 'person').
Loaded with

    CREATE FUNCTION red_sleeves FROM 'examples/sleeves.py';

and used by name, as a built-in detector is: ``tracks(bottles, 'red_sleeves')`` (see
examples/arm_reaches.sql). A detector returns, for each frame, a list of boxes in ``detect``'s
shape: label, score, x1, y1, x2, y2 in the frame's pixels."""

import cv2
import numpy as np
from vql.udfs.detect import DETECTIONS

import vql

WORK_SIZE = (320, 180)   # the colour test runs on a quarter of the 640x360 frame
MIN_AREA = 0.002         # of the frame: a sleeve seen at the edge is larger; specks are not
# Parts of one sleeve (split by a fold, the hand, a bottle in front) closer than this many
# pixels of the small frame are one arm: at 15 the two arms of the two-handed reach stay two
# and every other reach is one region (measured frame by frame against the labels).
JOIN = 15


@vql.udf(inputs=["frame"], returns=DETECTIONS, cost_ms=1.0)
def red_sleeves(frames: np.ndarray) -> list[list[dict[str, object]]]:
    """Saturated red regions (hue within 10 of red, saturation > 90), one box per arm."""
    found = []
    for frame in frames:
        height, width = frame.shape[:2]
        small = cv2.resize(frame, WORK_SIZE, interpolation=cv2.INTER_AREA)
        hue, saturation, value = cv2.split(cv2.cvtColor(small, cv2.COLOR_RGB2HSV))
        red = ((hue < 10) | (hue > 165)) & (saturation > 90) & (value > 40)
        mask = cv2.morphologyEx(red.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE,
                                cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (JOIN, JOIN)))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        sx, sy = width / WORK_SIZE[0], height / WORK_SIZE[1]
        found.append([
            {"label": "arm", "score": 1.0, "x1": x * sx, "y1": y * sy, "x2": (x + w) * sx,
             "y2": (y + h) * sy}
            for x, y, w, h, area in stats[1:count]
            if area >= MIN_AREA * WORK_SIZE[0] * WORK_SIZE[1]])
    return found
