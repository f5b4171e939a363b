"""DuckDB's types for typed macro parameters (``CREATE FUNCTION atleast(frame, k INTEGER)``).

Types and constants are checked on a private in-memory DuckDB: a failed query on the user's
connection would abort the user's transaction. A type only the user's database knows (an
ENUM made with CREATE TYPE) is looked up there by name instead.
"""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Sequence

import duckdb

_lock = threading.Lock()
_base: list[duckdb.DuckDBPyConnection] = []  # one in-memory database, made on first use


def _run(sql: str, params: Sequence[t.Any] = ()) -> list[tuple[t.Any, ...]]:
    with _lock:
        if not _base:
            _base.append(duckdb.connect(":memory:"))
        cursor = _base[0].cursor()  # its own connection to that database: threads may share
    try:
        return cursor.execute(sql, list(params)).fetchall()
    finally:
        cursor.close()


def type_name(written: str) -> str:
    """DuckDB's name of a built-in type (``INT`` -> ``INTEGER``, ``TEXT[]`` -> ``VARCHAR[]``);
    raises ``duckdb.Error`` for one DuckDB does not know."""
    (name,), = _run(f"SELECT typeof(CAST(NULL AS {written}))")
    return str(name)


def passes_as(constant: str, params: Sequence[t.Any], sql_type: str) -> tuple[bool, str] | None:
    """Whether DuckDB passes the constant (DuckDB SQL) to a parameter of ``sql_type`` as its
    typed macros do (an implicit cast only: 2 to BIGINT or DOUBLE, not '2' or 2.5 to
    INTEGER), and the constant's own type; None when that cannot be told here (a type of
    the user's database, or a constant DuckDB cannot evaluate alone)."""
    try:
        (passes, kind), = _run(f"SELECT can_cast_implicitly({constant}, CAST(NULL AS "
                               f"{sql_type})), typeof({constant})", params)
    except duckdb.Error:
        return None
    return bool(passes), str(kind)
