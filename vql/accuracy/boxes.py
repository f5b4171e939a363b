"""Boxes compared: intersection over union, shared by the detection and identity metrics."""

from __future__ import annotations


def iou(a: dict[str, float], b: dict[str, float]) -> float:
    """Intersection over union of two boxes given as ``x1``, ``y1``, ``x2``, ``y2`` dicts."""
    width = min(a["x2"], b["x2"]) - max(a["x1"], b["x1"])
    height = min(a["y2"], b["y2"]) - max(a["y1"], b["y1"])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    area = (a["x2"] - a["x1"]) * (a["y2"] - a["y1"]) + (b["x2"] - b["x1"]) * (b["y2"] - b["y1"])
    return inter / max(area - inter, 1e-9)
