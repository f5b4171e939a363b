"""count_objects and has_object: macros over detect(), so a query that asks for several labels
or for both detections and counts runs the detector once per frame."""

from __future__ import annotations

from vql.functions.macros import macro_from_expression
from vql.functions.spec import MacroFunction, Param
from vql.sql.parse import parse_expression

_FRAME = Param("frame", "frame")
_LABEL = Param("label", "str")
_MODEL = Param("model", "str", "fastestdet")


def _macro(name: str, params: tuple[Param, ...], body: str, doc: str, returns: str) -> MacroFunction:
    return macro_from_expression(name, params, parse_expression(body), body,
                                 doc=doc, returns=returns)


COUNT_OBJECTS = _macro(
    "count_objects", (_FRAME, _LABEL, _MODEL),
    "len(list_filter(detect(frame, model), lambda _vql_d: _vql_d.label = label))",
    "Number of detected objects with the given COCO label.", "BIGINT")

HAS_OBJECT = _macro(
    "has_object", (_FRAME, _LABEL, _MODEL),
    "count_objects(frame, label, model) > 0",
    "Whether the detector sees at least one object with the given label.", "BOOLEAN")

MACROS = (COUNT_OBJECTS, HAS_OBJECT)
