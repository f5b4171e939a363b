"""Short clips made from a still photo, encoded with OpenCV, for when no video is at hand.

``camera_tour_clip`` moves a virtual camera over a photo along a list of shots (hold a view,
move to the next) and returns, with the file, where the camera looked in every frame: what is
in view is known by construction, so answers computed from the pixels can be checked against
it. ``BUS_TOUR`` is such a tour over ultralytics' bundled bus.jpg (the offline ``make demo``).
``pan_zoom_clip`` is a plain pan and zoom (small clips for tests)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def bundled_image(name: str = "bus.jpg") -> Path:
    """A photo that ships inside the ultralytics package (bus.jpg or zidane.jpg)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the photo comes with ultralytics, which is not installed: "
                                "pip install 'vql[yolo]', or give a video of your own")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the ultralytics package")
    return path


def _read_photo(image: Path) -> np.ndarray:
    import cv2

    photo = cv2.imread(str(image))
    if photo is None:
        raise FileNotFoundError(f"cannot read image {image}")
    return photo


def pan_zoom_clip(out: Path, *, image: Path | None = None, seconds: float = 6.0,
                  fps: int = 10, size: tuple[int, int] = (640, 360)) -> Path:
    """Write an MP4 that pans across and zooms into ``image``; returns its path."""
    import cv2

    photo = _read_photo(image or bundled_image())
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


# --- camera tours ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """A window on a photo: its left and top edges and its width, in the photo's pixels (the
    height follows from the clip's aspect ratio). ``what``: what it shows, in words."""

    what: str
    left: int
    top: int
    width: int


@dataclass(frozen=True, slots=True)
class Shot:
    """One step of a tour: the camera moves to ``view`` in ``move_s`` seconds (0: it cuts or
    starts there), then holds it for ``hold_s`` seconds."""

    view: View
    move_s: float
    hold_s: float


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """Where the camera looked in one frame of a tour. ``moving``: the window differs from the
    previous frame's (so every pixel may change); ``shot``: the view held, or ``'a -> b'``
    while moving from view a to view b."""

    frame_id: int
    left: int
    top: int
    width: int
    moving: bool
    shot: str


@dataclass(frozen=True, slots=True)
class Tour:
    """A clip written by ``camera_tour_clip``: the file, its frame rate and its frames."""

    path: Path
    fps: int
    frames: tuple[CameraFrame, ...]

    @property
    def seconds(self) -> float:
        """The clip's length in seconds: its frames at its frame rate."""
        return len(self.frames) / self.fps

    def shots(self) -> list[tuple[int, int, str]]:
        """The camera's log: (first frame, last frame, shot) for each run of frames of one
        shot, in order."""
        log: list[tuple[int, int, str]] = []
        for frame in self.frames:
            if log and log[-1][2] == frame.shot:
                log[-1] = (log[-1][0], frame.frame_id, frame.shot)
            else:
                log.append((frame.frame_id, frame.frame_id, frame.shot))
        return log


# The offline demo's tour over bus.jpg (810 x 1080: a yellow building, below it a blue
# electric bus with two men standing in front of its left half, a cobbled pavement at the
# bottom). The views were chosen on a picture of the photo with a 100-pixel grid: the building
# view ends above the bus's roof; the bus view is its blue side from the "e>" logo to the rear
# wheel ("cero emisiones"), with the arm of a man walking past at its right edge; the pavement
# view starts below everyone's knees (one walker's shoe at its top right).
BUILDING = View("the building", left=300, top=0, width=448)
BUS_SIDE = View("the blue side of the bus", left=330, top=440, width=480)
PAVEMENT = View("the pavement", left=350, top=825, width=452)
BUS_TOUR = (Shot(BUILDING, 0.0, 1.0), Shot(BUS_SIDE, 2.0, 1.0), Shot(PAVEMENT, 2.0, 1.0))


def tour_frames(tour: Sequence[Shot], fps: int) -> list[CameraFrame]:
    """The camera's window in every frame of ``tour``: holds repeat a view; a move goes in
    equal steps from the previous view and ends on the new one."""
    frames: list[CameraFrame] = []
    where = tour[0].view
    for shot in tour:
        steps = round(shot.move_s * fps)
        for step in range(1, steps + 1):
            left, top, width = _between(where, shot.view, step / steps)
            frames.append(CameraFrame(len(frames), left, top, width, moving=True,
                                      shot=f"{where.what} -> {shot.view.what}"))
        for _ in range(round(shot.hold_s * fps)):
            frames.append(CameraFrame(len(frames), shot.view.left, shot.view.top,
                                      shot.view.width, moving=False, shot=shot.view.what))
        where = shot.view
    return frames


def _between(start: View, end: View, k: float) -> tuple[int, int, int]:
    """The window a fraction ``k`` of the way from ``start`` to ``end``, in whole pixels."""
    return (round(start.left + (end.left - start.left) * k),
            round(start.top + (end.top - start.top) * k),
            round(start.width + (end.width - start.width) * k))


def describe(tour: Sequence[Shot]) -> str:
    """The tour in words: 'holds on a (1 s), tilts down to b (2 s), holds (1 s), ...'."""
    parts: list[str] = []
    where = tour[0].view
    for shot in tour:
        if shot.move_s:
            parts.append(f"{_move_verb(where, shot.view)} {shot.view.what} ({shot.move_s:g} s)")
        if shot.hold_s:
            parts.append(f"holds on {shot.view.what} ({shot.hold_s:g} s)" if not shot.move_s
                         else f"holds ({shot.hold_s:g} s)")
        where = shot.view
    return ", ".join(parts)


def _move_verb(start: View, end: View) -> str:
    """A camera operator's word for the move: a tilt when it goes mostly up or down, a pan
    when it goes mostly sideways (by the window's centre)."""
    dx = (end.left + end.width / 2) - (start.left + start.width / 2)
    dy = end.top - start.top
    if abs(dy) >= abs(dx):
        return "tilts down to" if dy > 0 else "tilts up to"
    return "pans right to" if dx > 0 else "pans left to"


def camera_tour_clip(out: Path, tour: Sequence[Shot] = BUS_TOUR, *, image: Path | None = None,
                     fps: int = 10, size: tuple[int, int] = (640, 360)) -> Tour:
    """Write an MP4 (MPEG-4 part 2, OpenCV's ``mp4v``) of a camera moving over ``image``
    (default: bus.jpg) along ``tour``; returns the file with where it looked in each frame.
    Raises ValueError when a view does not fit in the photo."""
    import cv2

    photo = _read_photo(image or bundled_image())
    frames = tour_frames(tour, fps)
    out_w, out_h = size
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    try:
        for frame in frames:
            height = round(frame.width * out_h / out_w)
            crop = photo[frame.top:frame.top + height, frame.left:frame.left + frame.width]
            if crop.shape[:2] != (height, frame.width):
                raise ValueError(f"frame {frame.frame_id}: the window {frame.width}x{height} at "
                                 f"({frame.left}, {frame.top}) leaves the photo "
                                 f"({photo.shape[1]}x{photo.shape[0]})")
            writer.write(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    finally:
        writer.release()
    return Tour(out, fps, tuple(frames))
