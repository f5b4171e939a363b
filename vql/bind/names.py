"""The names the binder makes for DuckDB, and the names the user sees instead.

A statement over video tables runs in DuckDB over Arrow streams: each video table reference
becomes a view ``__vql_in<n>``, each frame-function call a column ``__vql_<function>_<n>``, and
the built-in macros name their lambda variable ``_vql_d``. None of these may reach the user:

- a result column is named as DuckDB names the expression the user wrote
  (``column_names``: ``detect(frame)[1].label`` gives ``(detect(frame)[1])."label"``);
- text shown to the user (EXPLAIN, error messages) goes through ``user_facing``, which puts
  back what the user wrote (``names``, from the bound statement) or, without it, a readable
  stand-in (``brightness(frame)`` for ``__vql_brightness_0``).
"""

from __future__ import annotations

import json
import re
import typing as t
from collections.abc import Callable, Mapping, Sequence

import duckdb

INTERNAL = "__vql_"
LAMBDA_VARIABLE = "_vql_d"  # the built-in macros' lambda variable (vql/udfs/objects.py)

# An identifier as DuckDB prints it in messages: bare or double-quoted.
_PART = r'(?:"(?:[^"]|"")*"|[A-Za-z_][\w$]*)'
_CALL_COLUMN = re.compile(rf'(?:({_PART})\.)?"?({INTERNAL}(\w+?)_(\d+))\b"?')
_VIEW = re.compile(rf'"?({INTERNAL}in\d+)\b"?')
_BATCH = re.compile(rf'"?{INTERNAL}batch"?\.')  # pipeline predicates run over this relation
_LAMBDA = re.compile(rf"\b{LAMBDA_VARIABLE}\b")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def view_name(index: int) -> str:
    """The DuckDB view a statement's ``index``-th video table reference is read through."""
    return f"{INTERNAL}in{index}"


def call_column(function: str, index: int) -> str:
    """The pipeline column of a statement's ``index``-th frame-function call."""
    return f"{INTERNAL}{function}_{index}"


def user_facing(message: str, names: Mapping[str, str] | None = None) -> str:
    """``message`` with every internal name replaced by what the user wrote (``names``:
    internal name -> text, from the bound statement), or by a readable stand-in.

    >>> user_facing('column "__vql_brightness_0" must appear in the GROUP BY clause')
    'column brightness(frame) must appear in the GROUP BY clause'
    >>> user_facing('road.__vql_detect_3 > 1', {"__vql_detect_3": "detect(frame)"})
    'detect(frame) > 1'
    """
    names = names or {}

    def call(match: re.Match[str]) -> str:
        qualifier, column, function = match.group(1), match.group(2), match.group(3)
        text = names.get(column)
        if text is None:
            frame = f"{_unquote(qualifier)}.frame" if qualifier else "frame"
            text = f"{function}({frame})"
        quoted = match.group(0).endswith('"')
        return f'"{text}"' if quoted and _PLAIN_NAME.fullmatch(text) else text

    def view(match: re.Match[str]) -> str:
        return names.get(match.group(1), "the video table")

    message = _CALL_COLUMN.sub(call, message)
    message = _VIEW.sub(view, message)
    message = _BATCH.sub("", message)
    return _LAMBDA.sub("d", message)


def _unquote(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part


def column_names(expressions: Sequence[str],
                 run: Callable[[str, list[t.Any]], list[tuple[t.Any, ...]]]) -> list[str]:
    """The names DuckDB gives these projections (DuckDB SQL, unaliased) as result columns: its
    parser's own text of each (``k+1`` is ``(k + 1)``, ``COUNT(x)`` is ``count(x)``), found
    without binding them. An expression DuckDB cannot parse alone keeps its text."""
    names = []
    for text in expressions:
        names.append(_duckdb_text(text, run) or text)
    return names


def _duckdb_text(expression: str,
                 run: Callable[[str, list[t.Any]], list[tuple[t.Any, ...]]]) -> str | None:
    try:
        (serialized,), = run("SELECT json_serialize_sql(?)", [f"SELECT {expression}"])
        if json.loads(serialized).get("error"):
            return None
        (text,), = run("SELECT json_deserialize_sql(?::JSON)", [serialized])
    except (duckdb.Error, ValueError):
        return None
    text = str(text)
    return text[len("SELECT "):] if text.startswith("SELECT ") else None
