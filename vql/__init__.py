"""VQL: a SQL video query engine.

    >>> import vql
    >>> con = vql.connect()
    >>> cur = con.execute("LOAD VIDEO 'room.mp4' INTO room")
    >>> cur.execute("SELECT frame_id, ts FROM room WHERE has_object(frame, 'person')").fetchall()

The module follows PEP 249 (DB-API 2.0): ``connect``, the exception hierarchy, the type objects
and constructors, and the globals below.
"""

from vql.api.connection import Connection, connect
from vql.api.cursor import Cursor
from vql.api.types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from vql.errors import (
    BindError,
    CatalogError,
    ConcurrentChangeError,
    DamagedVideoWarning,
    DatabaseError,
    DatabaseInUseError,
    DataError,
    DeviceError,
    Error,
    FallbackWarning,
    InfeasibleTargetError,
    IntegrityError,
    InterfaceError,
    InternalError,
    MissingDependencyError,
    ModelError,
    NotSupportedError,
    OperationalError,
    ParseError,
    ProgrammingError,
    QueryCanceledError,
    TargetNotOptimizedWarning,
    UDFError,
    VideoError,
    Warning,
)
from vql.functions.spec import Param, udf
from vql.version import __version__ as __version__

apilevel = "2.0"
threadsafety = 1  # threads may share the module, but not connections
paramstyle = "qmark"

__all__ = [
    "connect", "Connection", "Cursor", "udf", "Param",
    "apilevel", "threadsafety", "paramstyle",
    "Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
    "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError",
    "ParseError", "BindError", "CatalogError", "VideoError", "ModelError", "UDFError",
    "MissingDependencyError",
    "InfeasibleTargetError",
    "QueryCanceledError", "DeviceError", "ConcurrentChangeError", "DatabaseInUseError",
    "TargetNotOptimizedWarning", "FallbackWarning", "DamagedVideoWarning",
    "STRING", "BINARY", "NUMBER", "DATETIME", "ROWID",
    "Date", "Time", "Timestamp", "DateFromTicks", "TimeFromTicks", "TimestampFromTicks", "Binary",
]
