"""PEP 249 type objects and constructors. Type codes in ``cursor.description`` are DuckDB's
type names (``'INTEGER'``, ``'VARCHAR'``, ...), and each type object compares equal to the codes
of its group: ``description[0][1] == vql.NUMBER``."""

from __future__ import annotations

import datetime
import time


class DBAPITypeObject:
    """A PEP 249 type group: equal to each DuckDB type code it covers (``'DECIMAL(9,2)'``
    equals ``NUMBER``)."""

    def __init__(self, name: str, *prefixes: str):
        self.name = name
        self.prefixes = tuple(p.upper() for p in prefixes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return other is self
        if isinstance(other, str):
            code = other.upper()
            return any(code == p or code.startswith(p + "(") for p in self.prefixes)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DB-API type {self.name}>"


STRING = DBAPITypeObject("STRING", "VARCHAR", "CHAR", "TEXT", "STRING", "UUID", "JSON", "ENUM")
BINARY = DBAPITypeObject("BINARY", "BLOB", "BYTEA", "VARBINARY", "BIT")
NUMBER = DBAPITypeObject("NUMBER", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                         "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT",
                         "DOUBLE", "DECIMAL", "REAL", "BOOLEAN")
DATETIME = DBAPITypeObject("DATETIME", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE",
                           "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "INTERVAL",
                           "TIME WITH TIME ZONE")
ROWID = DBAPITypeObject("ROWID", "ROWID")

Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 - names mandated by PEP 249
    """The local date ``ticks`` seconds after the epoch (PEP 249)."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802
    """The local time of day ``ticks`` seconds after the epoch, to the second (PEP 249)."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802
    """The local date and time ``ticks`` seconds after the epoch, to the second (PEP 249)."""
    return Timestamp(*time.localtime(ticks)[:6])


def Binary(value: bytes | bytearray | memoryview | str) -> bytes:  # noqa: N802
    """A value for a BLOB parameter: the bytes of ``value`` (text encoded as UTF-8)."""
    return value.encode() if isinstance(value, str) else bytes(value)
