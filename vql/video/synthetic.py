"""A short real-looking clip made from a still photo: a slow pan and zoom over ultralytics'
bundled bus.jpg, encoded with OpenCV. The demo uses it when no video is at hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def bundled_image(name: str = "bus.jpg") -> Path:
    """A photo that ships inside the ultralytics package (bus.jpg or zidane.jpg)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("ultralytics is not installed, so its bundled images are missing")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the ultralytics package")
    return path


def pan_zoom_clip(out: Path, *, image: Path | None = None, seconds: float = 6.0,
                  fps: int = 10, size: tuple[int, int] = (640, 360)) -> Path:
    """Write an MP4 that pans across and zooms into ``image``; returns its path."""
    import cv2

    photo = cv2.imread(str(image or bundled_image()))
    if photo is None:
        raise FileNotFoundError(f"cannot read image {image}")
    height, width = photo.shape[:2]
    out_w, out_h = size
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    frames = max(int(seconds * fps), 2)
    try:
        for i in range(frames):
            progress = i / (frames - 1)
            zoom = 1.0 + 0.6 * progress            # from the whole width to 1/1.6 of it
            crop_w = int(width / zoom)
            crop_h = min(int(crop_w * out_h / out_w), height)
            x = int((width - crop_w) * progress)   # left to right
            y = int((height - crop_h) * (0.5 + 0.3 * np.sin(np.pi * progress)) / 1.3)
            crop = photo[y:y + crop_h, x:x + crop_w]
            writer.write(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    finally:
        writer.release()
    return out
