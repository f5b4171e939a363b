"""count_objects and has_object: macros over detect(), so a query that asks for several labels
or for both detections and counts runs the detector once per frame. A label the model does not
know is a BindError that names the closest one (``has_object(frame, 'persn')``: "did you mean
'person'?"), before any frame is decoded."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from vql.functions.macros import substitute
from vql.functions.spec import MacroFunction, Param
from vql.sql.parse import parse_expression

_FRAME = Param("frame", "frame")
_LABEL = Param("label", "str")
_MODEL = Param("model", "str", "fastestdet")


def _checked(name: str, body: exp.Expr) -> Callable[[dict[str, exp.Expr]], exp.Expr]:
    def expand(values: dict[str, exp.Expr]) -> exp.Expr:
        label, model = values.get("label"), values.get("model")
        if isinstance(label, exp.Literal) and label.is_string and \
                isinstance(model, exp.Literal) and model.is_string:
            from vql.udfs.detect import check_labels

            check_labels(model.this, [label.this], name)
        return substitute(body, values)

    return expand


def _macro(name: str, params: tuple[Param, ...], body: str, doc: str, returns: str) -> MacroFunction:
    return MacroFunction(name=name, params=params, body=body,
                         expand=_checked(name, parse_expression(body)), doc=doc, returns=returns)


COUNT_OBJECTS = _macro(
    "count_objects", (_FRAME, _LABEL, _MODEL),
    "len(list_filter(detect(frame, model), lambda _vql_d: _vql_d.label = label))",
    "Number of detected objects with the given COCO label.", "BIGINT")

HAS_OBJECT = _macro(
    "has_object", (_FRAME, _LABEL, _MODEL),
    "count_objects(frame, label, model) > 0",
    "Whether the detector sees at least one object with the given label.", "BOOLEAN")

MACROS = (COUNT_OBJECTS, HAS_OBJECT)
