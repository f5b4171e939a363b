"""How the shell writes a result: a table on screen, or every row as CSV, JSON lines or Parquet
(``.mode``). Only the table mode shortens long results; the others stream every row."""

from __future__ import annotations

import base64
import csv
import datetime
import decimal
import json
import typing as t
from collections.abc import Callable
from pathlib import Path

import vql
from vql.shell import format as fmt


def _plain(value: t.Any) -> t.Any:
    """A value JSON and CSV can hold: bytes (a JPEG frame) as base64 text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta | decimal.Decimal):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def write_table(cursor: vql.Cursor, out: t.TextIO, path: Path | None) -> int:
    columns = [d[0] for d in cursor.description or ()]
    rows, total = fmt.window(cursor)  # streams: long results are never held whole
    print(fmt.table(columns, rows, total), file=out)
    return total


def write_csv(cursor: vql.Cursor, out: t.TextIO, path: Path | None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([d[0] for d in cursor.description or ()])
    count = 0
    for row in cursor:
        writer.writerow([json.dumps(_plain(v)) if isinstance(v, list | dict) else _plain(v)
                         for v in row])
        count += 1
    return count


def write_json(cursor: vql.Cursor, out: t.TextIO, path: Path | None) -> int:
    """JSON lines: one object per row."""
    columns = [d[0] for d in cursor.description or ()]
    count = 0
    for row in cursor:
        out.write(json.dumps({c: _plain(v) for c, v in zip(columns, row)}) + "\n")
        count += 1
    return count


def write_parquet(cursor: vql.Cursor, out: t.TextIO, path: Path | None) -> int:
    import pyarrow.parquet as pq

    if path is None:
        raise vql.ProgrammingError("parquet is binary: choose a file first with .output FILE")
    reader = cursor.fetch_record_batches()
    count = 0
    with pq.ParquetWriter(str(path), reader.schema) as writer:  # replaces the file
        for batch in reader:
            writer.write_batch(batch)
            count += batch.num_rows
    return count


Writer = Callable[[vql.Cursor, t.TextIO, "Path | None"], int]

MODES: dict[str, Writer] = {
    "table": write_table, "csv": write_csv, "json": write_json, "parquet": write_parquet,
}
