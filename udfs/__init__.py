"""VQL's built-in function library (installed as ``vql.udfs``).

| function | kind | what it computes |
|---|---|---|
| detect(frame [, model]) | UDF | list of {label, score, x1, y1, x2, y2}; FastestDet or YOLO |
| count_objects(frame, label [, model]) | macro over detect | number of objects with the label |
| has_object(frame, label [, model]) | macro over detect | whether such an object is seen |
| motion(frame) | stateful UDF | fraction of pixels changed since the previous frame |
| moving_objects(frame) | stateful UDF | moving blobs from background subtraction |
| vehicle_count(frame) | macro | YOLO vehicles when available, else moving_objects |
| congested(frame [, threshold]) | macro | vehicle_count(frame) >= threshold (2) |
| brightness(frame) | UDF | mean pixel value, 0..1 |
| track(frame [, what]) | stateful UDF | objects with a track_id stable over time (OC-SORT, ByteTrack, C-BIoU) |
"""

from __future__ import annotations

from vql.functions.spec import Function, declared_in


def builtin_functions() -> list[Function]:
    """Every built-in function, frame functions and macros, as a new registry receives them."""
    from vql.udfs import detect, image, motion, objects, track, traffic

    functions: list[Function] = []
    for module in (detect, image, motion, track):
        functions.extend(declared_in(vars(module)))
    functions.extend(objects.MACROS)
    functions.extend(traffic.MACROS)
    return functions
