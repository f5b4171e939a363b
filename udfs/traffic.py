"""vehicle_count and congested.

vehicle_count uses a YOLO model when its weights are on the model path (COCO car, bus, truck and
motorcycle boxes), and otherwise counts moving objects (``moving_objects``: foreground fragments
of one car merged into one object): FastestDet, the detector available offline, does not
recognise cars seen from above (measured on car-detection.mp4). EXPLAIN shows which, and a query
that counts by motion says so once (a FallbackWarning). Measured against labels made by eye
(tests/labels/road_vehicles.csv): right on every frame of the road video, congested F1 1.0.

congested(frame [, threshold]) is vehicle_count(frame) >= threshold. The default threshold, 2,
comes from the overhead road clip car-detection.mp4, where at most two cars are in view at once.
"""

from __future__ import annotations

import importlib.util
import os

from sqlglot import exp

from vql.functions.macros import substitute
from vql.functions.spec import MacroFunction, Param
from vql.settings import Settings
from vql.sql.parse import parse_expression

VEHICLE_LABELS = ("car", "bus", "truck", "motorcycle")
VEHICLE_MODEL = os.environ.get("VQL_VEHICLE_MODEL", "yolov8n.pt")
CONGESTION_THRESHOLD = 2

_labels = ", ".join(f"'{label}'" for label in VEHICLE_LABELS)
_YOLO_BODY = (f"len(list_filter(detect(frame, '{VEHICLE_MODEL}'), "
              f"lambda _vql_d: _vql_d.label IN ({_labels})))")
_BLOB_BODY = "moving_objects(frame)"


def yolo_missing() -> str | None:
    """Why vehicle_count cannot count with YOLO here (None when it can)."""
    if not Settings.from_env().find_model(VEHICLE_MODEL):
        return f"{VEHICLE_MODEL} is not on the model path (VQL_MODEL_PATH, VQL_VEHICLE_MODEL)"
    if importlib.util.find_spec("ultralytics") is None:
        return (f"{VEHICLE_MODEL} is on the model path but the yolo extra is not installed "
                "(pip install 'vql[yolo]')")
    return None


def vehicle_body() -> str:
    """The expression vehicle_count expands to on this machine."""
    return _BLOB_BODY if yolo_missing() else _YOLO_BODY


def _expand_vehicle_count(values: dict[str, exp.Expr]) -> exp.Expr:
    return substitute(parse_expression(vehicle_body()), values)


def _fallback_notice() -> str | None:
    why = yolo_missing()
    if why is None:
        return None
    return (f"vehicle_count counts moving objects (motion), not detected vehicles: {why}; a "
            "vehicle standing still is not counted and vehicles moving close together count as "
            "one")


VEHICLE_COUNT = MacroFunction(
    name="vehicle_count", params=(Param("frame", "frame"),),
    body=f"{_YOLO_BODY} if {VEHICLE_MODEL} is on the model path, else {_BLOB_BODY}",
    expand=_expand_vehicle_count, returns="BIGINT", notice=_fallback_notice,
    doc="Vehicles in the frame: YOLO car/bus/truck/motorcycle count, or moving blobs offline.")

_CONGESTED_BODY = "vehicle_count(frame) >= threshold"

CONGESTED = MacroFunction(
    name="congested",
    params=(Param("frame", "frame"), Param("threshold", "int", CONGESTION_THRESHOLD)),
    body=_CONGESTED_BODY, returns="BOOLEAN",
    expand=lambda values: substitute(parse_expression(_CONGESTED_BODY), values),
    doc=f"vehicle_count(frame) >= threshold (default {CONGESTION_THRESHOLD}).")

MACROS = (VEHICLE_COUNT, CONGESTED)
