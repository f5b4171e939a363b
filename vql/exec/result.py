"""The result of one statement, streamed to the DB-API cursor."""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from vql import errors
from vql.exec.context import QueryStats

if t.TYPE_CHECKING:
    from vql.exec.continuous import StreamStats
    from vql.tune.tuner import Tuning

Description = tuple[tuple[str, str, None, None, None, None, None], ...]

_ARROW_NAMES: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
    (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_int8, "TINYINT"),
    (pa.types.is_int16, "SMALLINT"), (pa.types.is_int32, "INTEGER"),
    (pa.types.is_int64, "BIGINT"), (pa.types.is_float32, "FLOAT"),
    (pa.types.is_float64, "DOUBLE"), (pa.types.is_string, "VARCHAR"),
    (pa.types.is_large_string, "VARCHAR"), (pa.types.is_binary, "BLOB"),
    (pa.types.is_timestamp, "TIMESTAMP"), (pa.types.is_date, "DATE"),
    (pa.types.is_list, "LIST"), (pa.types.is_struct, "STRUCT"),
)


def sql_type_name(arrow_type: pa.DataType) -> str:
    """DuckDB's name for an Arrow type, as a DB-API type code."""
    for test, name in _ARROW_NAMES:
        if test(arrow_type):
            return name
    return str(arrow_type).upper()


def describe_schema(schema: pa.Schema) -> Description:
    """PEP 249's description of an Arrow schema: (name, type code, five Nones) per column."""
    return tuple((f.name, sql_type_name(f.type), None, None, None, None, None) for f in schema)


@dataclass(frozen=True, slots=True)
class RunnerReport:
    """What a runner (``vql/session/runners.py``) did before a query ran in this process
    (``cursor.runner``)."""

    runner: str
    where: str              # in words: the pool, its actors and nodes
    videos: int             # videos the workers computed
    failed: tuple[tuple[str, str], ...]  # videos they could not, and why (computed here)
    seconds: float


@dataclass
class Result:
    """One statement's result for the cursor: a stream of rows, its description, count, warnings."""

    reader: pa.RecordBatchReader | None = None
    description: Description | None = None
    rowcount: int = -1
    # Warnings for the cursor: (category, text); a bare text is a TargetNotOptimizedWarning.
    messages: list[tuple[type[errors.Warning], str] | str] = field(default_factory=list)
    stats: QueryStats | None = None
    finish: Callable[[], None] | None = None  # releases what the streaming result holds
    tuning: Tuning | None = None  # the cost-based choice, for a query with a target
    # For a query over live tables: what it does with each stream, by table (its rows never
    # end: another statement on the connection ends it instead of reading them all first)
    live: dict[str, StreamStats] | None = None
    runner: RunnerReport | None = None  # what the session's runner did first (None: local)

    @classmethod
    def of_table(cls, table: pa.Table, **kwargs: t.Any) -> Result:
        """A result that streams ``table``, described by its schema."""
        return cls(reader=table.to_reader(), description=describe_schema(table.schema),
                   **kwargs)
