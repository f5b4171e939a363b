"""How the shell writes a result (``.mode``, or a flag such as ``-csv``): a table on screen
(``table``, ``box``), or every row as ``csv``, ``json`` (an array, as DuckDB's), ``jsonlines``,
``line`` (a line per column), ``markdown`` or ``parquet``. Only the table modes shorten long
results and hide columns that do not fit the terminal; the others stream every row."""

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


def write_table(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
                width: int | None = None, frame: fmt.Frame = fmt.ASCII) -> int:
    """Write the result as an ASCII table (long results shortened); returns the row count."""
    columns = [d[0] for d in cursor.description or ()]
    rows, total = fmt.window(cursor)  # streams: long results are never held whole
    print(fmt.table(columns, rows, total, width, frame), file=out)
    return total


LIVE_MIN_WIDTH = 8  # a live table's column width before any row is seen


def write_live(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
               width: int | None = None, frame: fmt.Frame = fmt.ASCII) -> int:
    """A live query's rows as they come, one table line each (its column widths fixed by
    the header and first row: later rows are not waited for); the row count so far."""
    columns = [d[0] for d in cursor.description or ()]
    widths: list[int] | None = None
    bar = frame.bar
    count = 0
    for row in cursor:
        cells = [fmt.cell(v) for v in row]
        if widths is None:
            widths = [max(len(c), len(v), LIVE_MIN_WIDTH) for c, v in zip(columns, cells)]
            rule = frame.top[0] + frame.top[2].join(frame.top[1] * (w + 2) for w in widths) + \
                frame.top[3]
            print(rule, file=out)
            print(bar + bar.join(f" {c.ljust(w)} " for c, w in zip(columns, widths)) + bar,
                  file=out)
            print(rule.replace(frame.top[0], frame.middle[0], 1), file=out)
        print(bar + bar.join(f" {v.ljust(w)[:max(w, len(v))]} " for v, w in zip(cells, widths))
              + bar, file=out, flush=True)
        count += 1
    if widths is not None:
        print(frame.bottom[0] + frame.bottom[2].join(frame.bottom[1] * (w + 2) for w in widths)
              + frame.bottom[3], file=out)
    return count


def write_box(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
              width: int | None = None) -> int:
    """Write the result as a box-drawing table (``.mode box``); returns the row count."""
    return write_table(cursor, out, path, width, fmt.BOX)


def _text(value: t.Any) -> str:
    """A value as one line of text: NULL for None, lists and structs as JSON."""
    if value is None:
        return "NULL"
    if isinstance(value, list | dict):
        return json.dumps(_plain(value))
    return str(_plain(value)).replace("\n", " ")


def write_csv(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
              width: int | None = None) -> int:
    """Write every row as CSV under a header, lists and structs as JSON; the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([d[0] for d in cursor.description or ()])
    count = 0
    for row in cursor:
        writer.writerow([json.dumps(_plain(v)) if isinstance(v, list | dict) else _plain(v)
                         for v in row])
        count += 1
    return count


def write_json(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
               width: int | None = None) -> int:
    """A JSON array of one object per row, as DuckDB's ``.mode json``, written as the rows
    stream (one row per line)."""
    columns = [d[0] for d in cursor.description or ()]
    count = 0
    for row in cursor:
        out.write(("[" if count == 0 else ",\n") +
                  json.dumps({c: _plain(v) for c, v in zip(columns, row)}))
        count += 1
    out.write("]\n" if count else "[]\n")
    return count


def write_jsonlines(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
                    width: int | None = None) -> int:
    """JSON lines: one object per row (``pandas.read_json(..., lines=True)``)."""
    columns = [d[0] for d in cursor.description or ()]
    count = 0
    for row in cursor:
        out.write(json.dumps({c: _plain(v) for c, v in zip(columns, row)}) + "\n")
        count += 1
    return count


def write_line(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
               width: int | None = None) -> int:
    """A line per column, ``name = value``, and a blank line between rows (as sqlite3's and
    DuckDB's ``.mode line``): every column of a wide result can be read."""
    columns = [d[0] for d in cursor.description or ()]
    pad = max((len(c) for c in columns), default=0)
    count = 0
    for row in cursor:
        if count:
            out.write("\n")
        for name, value in zip(columns, row):
            out.write(f"{name.rjust(pad)} = {_text(value)}\n")
        count += 1
    return count


def write_markdown(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
                   width: int | None = None) -> int:
    """A GitHub-flavoured Markdown table of every row (``|`` in values escaped)."""
    columns = [d[0] for d in cursor.description or ()]

    def line(values: t.Iterable[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |\n"

    out.write(line(columns))
    out.write("|" + "|".join("---" for _ in columns) + "|\n")
    count = 0
    for row in cursor:
        out.write(line(_text(v) for v in row))
        count += 1
    return count


def write_parquet(cursor: vql.Cursor, out: t.TextIO, path: Path | None,
                  width: int | None = None) -> int:
    """Stream every row into the Parquet file ``path`` (``.output FILE``); the row count."""
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


# (cursor, where to write, the .output file if any, the terminal's width) -> rows written
Writer = Callable[[vql.Cursor, t.TextIO, "Path | None", "int | None"], int]

MODES: dict[str, Writer] = {
    "table": write_table, "box": write_box, "csv": write_csv, "json": write_json,
    "jsonlines": write_jsonlines, "line": write_line, "markdown": write_markdown,
    "parquet": write_parquet,
}
TABLE_MODES = frozenset({"table", "box"})  # shortened to fit the screen; plans print whole
