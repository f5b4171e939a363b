"""track(frame [, what]): the objects in a frame with their identity over time.

A stateful frame function: one instance per video sees its frames in presentation order, finds
objects with a detector chosen by ``what`` and links them from frame to frame with a tracker
from Roboflow's ``trackers`` package (Apache-2.0, kept by the authors of supervision; chosen
over a hand-written matcher and over BoxMOT, which is AGPL-3.0), the one measured right for the
detector's boxes against the labels of tests/labels/:

* OC-SORT for the built-in detectors (FastestDet, YOLO): Kalman-filter motion corrected by the
  last observations. It matches a track that missed its object against the box it last saw,
  not only where its motion model guesses the object went: sampled at 0.5 FPS, ByteTrack made
  64 tracks of the archive's 54 visits (a visitor who walks in, stops at the table and is
  missed once by the detector); OC-SORT makes 54, as at every frame (bench/tracks.py).
* ByteTrack for a user's detector (Kalman motion, two-stage matching on scores): it keeps apart
  objects that come where another has just left, which OC-SORT's recovery joins (the arms of
  examples/arm_reaches.sql, which reach in from the same corner 1.9 s apart: ByteTrack finds
  the 8 reaches, OC-SORT joined two of them).
* C-BIoU for moving objects, which have no scores and boxes that grow and shrink as a car
  enters, brakes or leaves: it matches on boxes buffered in proportion to their size (on the
  labelled road video ByteTrack split one car of four in two; C-BIoU finds the four).

Each object comes out in ``detect``'s shape plus ``track_id``, an identity unique within the
video and stable while the object stays in view.

``what``:

* NULL (the default): every object FastestDet finds (COCO classes);
* a COCO label (``'person'``, ``'car'``): FastestDet's objects of that class;
* ``'vehicle'``: YOLO's cars, buses, trucks and motorcycles where its weights and the yolo
  extra are present, otherwise moving objects (background subtraction, as ``vehicle_count``):
  FastestDet does not recognise cars seen from above;
* a detection model (``'fastestdet'``, ``'yolov8n.pt'``): every object that model finds;
* the name of a frame function returning ``detect``'s shape (a user's detector, loaded with
  ``CREATE FUNCTION``): every object it returns. Its parameters after ``frame`` take their
  defaults; a stateful one gets a new instance per video, as ``track`` does.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from vql.udfs.detect import DETECTOR_LOADERS, Detection, check_labels, load_detector
from vql.udfs.motion import MovingBlobs
from vql.udfs.traffic import VEHICLE_LABELS, VEHICLE_MODEL, yolo_missing

from vql.errors import BindError
from vql.functions.spec import FunctionRef, udf

TRACKED = pa.struct([
    ("track_id", pa.int64()), ("label", pa.string()), ("score", pa.float64()),
    ("x1", pa.float64()), ("y1", pa.float64()), ("x2", pa.float64()), ("y2", pa.float64()),
])
TRACKS = pa.list_(TRACKED)

# The trackers' settings for a detector's boxes. A track is reported from its second matched
# frame on (one stray detection makes no track), and survives a while without a match: a
# detector that misses an object for a moment, or in one sampled frame, does not split it.
# ByteTrack: LOST_S seconds. OC-SORT: LOST_OC_S seconds, or LOST_SAMPLES sampling intervals
# when SAMPLE spaces the frames further apart. Longer is not better for OC-SORT: it matches a
# lost track against the box it last saw, so an object that comes where another left within
# that time continues its track. Measured: the archive's 54 visits (bench/archive.py) sampled
# at 0.5 FPS: 1.2 and 1.5 intervals give 54, as at 1 FPS; 2.5 joined visits that follow each
# other (51). The room video's 6 visits stay 6 from every frame down to 0.33 FPS.
LOST_S = 3.0
LOST_OC_S = 2.0
LOST_SAMPLES = 1.5
MIN_FRAMES = 2
ACTIVATION_SCORE = 0.5      # FastestDet scores the people of the room video about 0.9
# Boxes are matched by Distance-IoU (IoU less the squared distance between centres over the
# squared diagonal of the box enclosing both): boxes that no longer overlap still match when
# their centres are close, so a track sampled a few times a second stays one track. Measured
# on the room video's FastestDet boxes: plain IoU >= 0.1 splits visits from 1 FPS down (10
# tracks for 6 visits); DIoU >= -0.3 keeps 6 from every frame down to 0.5 FPS.
MATCH_DIOU = -0.3
# C-BIoU's lost tracks end after this long: its default 30 frames, at the road video's 12.5
# FPS. Counted in frames, at 2 FPS its default kept the first car's track 15 s, long enough to
# take the third car as its own.
LOST_BLOB_S = 2.4

# Boxes per frame, from the frames and their times (seconds; None: evenly spaced)
Source = Callable[[np.ndarray, np.ndarray | None], list[list[Detection]]]


@dataclass(frozen=True)
class Finder:
    """How ``track`` finds one video's objects and links them: a detector of boxes per frame,
    and a new tracker for the video."""

    find: Source
    # A new tracker, given the usual time between the frames it will see (seconds; None:
    # unknown)
    tracker: Callable[[float | None], t.Any]
    timed: bool = True  # the tracker predicts motion over the frames' times (else per frame)


def ocsort(gap: float | None = None) -> t.Any:
    """OC-SORT for a built-in detector's boxes and scores, told each frame's time; ``gap``: the
    usual time between the frames it will see (seconds; None: unknown), which lengthens the
    time a lost track waits under SAMPLE."""
    from trackers import DIoU, OCSORTTracker

    lost = max(LOST_OC_S, LOST_SAMPLES * (gap or 0.0))
    return OCSORTTracker(  # lost_track_buffer counts frames at 30 FPS
        lost_track_buffer=round(lost * 30), frame_rate=30.0,
        high_conf_det_threshold=ACTIVATION_SCORE,
        minimum_consecutive_frames=MIN_FRAMES - 1,  # updates after the first detection
        minimum_iou_threshold=MATCH_DIOU, iou=DIoU())


def bytetrack(gap: float | None = None) -> t.Any:
    """ByteTrack for a user's detector's boxes and scores (told each frame's time: ``gap``
    unused)."""
    from trackers import ByteTrackTracker, DIoU

    return ByteTrackTracker(  # lost_track_buffer counts frames at 30 FPS
        lost_track_buffer=round(LOST_S * 30), frame_rate=30.0,
        track_activation_threshold=ACTIVATION_SCORE, minimum_consecutive_frames=MIN_FRAMES,
        minimum_iou_threshold=MATCH_DIOU, iou=DIoU())


def cbiou(gap: float | None = None) -> t.Any:
    """C-BIoU for moving objects' boxes (no scores; sizes that jump), linking frame after frame;
    a track lost for LOST_BLOB_S seconds of frames ``gap`` seconds apart ends."""
    from trackers import CBIoUTracker

    lost = 30 if gap is None or gap <= 0 else max(1, round(LOST_BLOB_S / gap))
    return CBIoUTracker(lost_track_buffer=lost, frame_rate=30.0)


def _model(name: str) -> bool:
    return any(matches(name.lower()) for matches, _ in DETECTOR_LOADERS)


# The fields a detector's objects must have to feed ``track`` (label and score are optional).
BOX_FIELDS = ("x1", "y1", "x2", "y2")


def _check(what: str | FunctionRef | None = None) -> None:
    if isinstance(what, FunctionRef):
        _check_feeds(what)
        return
    if what is None or what == "vehicle" or _model(what):
        return
    if not what:
        raise BindError("track: what must be a label, 'vehicle' or a detection model, not ''")
    try:
        check_labels("fastestdet", [what], "track")
    except BindError as error:
        raise BindError(f"{error.message}; what may also be 'vehicle', a detection model or "
                        "the name of a function returning detect's shape") from None


def _check_feeds(ref: FunctionRef) -> None:
    """A function feeding ``track`` returns a list of boxes (``detect``'s shape)."""
    returns = ref.function.returns
    fields = ({returns.value_type.field(i).name for i in range(returns.value_type.num_fields)}
              if pa.types.is_list(returns) and pa.types.is_struct(returns.value_type) else set())
    if not set(BOX_FIELDS) <= fields:
        raise BindError(f"track: {ref.name} returns {returns}; a detector feeding track must "
                        "return a list of structs with x1, y1, x2, y2 (and label, score), as "
                        "detect does")


def _fed(ref: FunctionRef) -> Source:
    evaluator = ref.open()

    def found(frames: np.ndarray, ts: np.ndarray | None) -> list[list[Detection]]:
        return [[{"label": d.get("label") or ref.name,
                  "score": 1.0 if d.get("score") is None else float(d["score"]),
                  **{k: float(d[k]) for k in BOX_FIELDS}} for d in objects or ()]
                for objects in evaluator(frames, ts)]
    return found


def _detector(model: str, labels: tuple[str, ...] | None = None) -> Source:
    def found(frames: np.ndarray, ts: np.ndarray | None) -> list[list[Detection]]:
        frames_found = load_detector(model)(frames)
        if labels is None:
            return frames_found
        return [[d for d in frame if d["label"] in labels] for frame in frames_found]
    return found


def _blobs(label: str) -> Source:
    blobs = MovingBlobs()

    def found(frames: np.ndarray, ts: np.ndarray | None) -> list[list[Detection]]:
        return [[{"label": label, "score": 1.0, "x1": x1, "y1": y1, "x2": x2, "y2": y2}
                 for x1, y1, x2, y2 in blobs(frame)] for frame in frames]
    return found


def finder_for(what: str | FunctionRef | None) -> Finder:
    """How ``track`` finds and links the objects of one video (see the module docstring)."""
    if isinstance(what, FunctionRef):
        return Finder(_fed(what), bytetrack)
    if what is None:
        return Finder(_detector("fastestdet"), ocsort)
    if what == "vehicle":
        if yolo_missing() is None:
            return Finder(_detector(VEHICLE_MODEL, VEHICLE_LABELS), ocsort)
        # Per frame: C-BIoU's buffers are sized for a frame's motion (given the times, it split
        # the first car of the road video in two).
        return Finder(_blobs("vehicle"), cbiou, timed=False)
    if _model(what):
        return Finder(_detector(what), ocsort)
    return Finder(_detector("fastestdet", (what,)), ocsort)


@udf(inputs=["frame", "what:source=None"], returns=TRACKS, stateful=True, timed=True,
     cost_ms=17.0, check=_check)
class track:
    """Objects in the frame with their identity: a list of {track_id, label, score, x1, y1,
    x2, y2} (pixels); ``what``: a label, 'vehicle', a detection model or a detector function
    (NULL: every object)."""

    def __init__(self, what: str | FunctionRef | None = None) -> None:
        import supervision

        self.sv = supervision  # the detections' type the trackers take
        finder = finder_for(what)
        self.source, self.new_tracker, self.timed = finder.find, finder.tracker, finder.timed
        self.tracker: t.Any = None  # made on the first frames, told how far apart they are
        self.ids: dict[int, int] = {}  # the tracker's id -> ours: 1, 2, ... in order of appearance

    def __call__(self, frames: np.ndarray, ts: np.ndarray | None = None
                 ) -> list[list[dict[str, t.Any]]]:
        """The tracked objects of each frame, in order; ``ts``: when each frame is (seconds;
        None: evenly spaced)."""
        if self.tracker is None:
            gaps = np.diff(ts) if ts is not None and len(ts) > 1 else np.array([])
            self.tracker = self.new_tracker(float(np.median(gaps)) if len(gaps) else None)
        times = [None] * len(frames) if ts is None or not self.timed else [float(v) for v in ts]
        return [self._linked(found, at) for found, at in zip(self.source(frames, ts), times,
                                                              strict=True)]

    def _linked(self, found: list[Detection], at: float | None) -> list[dict[str, t.Any]]:
        labels = [d["label"] for d in found]
        detections = self.sv.Detections(
            xyxy=np.array([[d["x1"], d["y1"], d["x2"], d["y2"]] for d in found],
                          dtype=np.float32).reshape(-1, 4),
            confidence=np.array([d["score"] for d in found], dtype=np.float32),
            class_id=np.arange(len(found), dtype=int))  # the index back into ``found``
        tracked = self.tracker.update(detections, timestamp=at)
        out = []
        for box, index, tracker_id in zip(tracked.xyxy, tracked.class_id, tracked.tracker_id,
                                          strict=True):
            if tracker_id < 0:  # not (yet) a confirmed track
                continue
            ours = self.ids.setdefault(int(tracker_id), len(self.ids) + 1)
            x1, y1, x2, y2 = (float(v) for v in box)
            out.append({"track_id": ours, "label": labels[int(index)],
                        "score": float(found[int(index)]["score"]),
                        "x1": x1, "y1": y1, "x2": x2, "y2": y2})
        return sorted(out, key=lambda o: o["track_id"])
