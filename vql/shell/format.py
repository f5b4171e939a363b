"""Text rendering of results, errors and warnings for the shell."""

from __future__ import annotations

import typing as t
from collections import deque
from collections.abc import Iterable, Sequence

from vql.errors import Error

MAX_WIDTH = 90
FULL_ROWS = 40  # results up to this many rows print whole
HEAD_ROWS = 20  # longer ones print their first and last rows
TAIL_ROWS = 10


def cell(value: t.Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        size = len(value)
        kind = "JPEG" if bytes(value[:3]) == b"\xff\xd8\xff" else "BLOB"
        return f"<{kind} {size / 1024:.1f} KB>" if size >= 1024 else f"<{kind} {size} B>"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value).replace("\n", " ")
    return text if len(text) <= MAX_WIDTH else text[:MAX_WIDTH - 1] + "…"


def table(columns: Sequence[str], rows: Sequence[Sequence[t.Any]], total: int | None = None) -> str:
    """A boxed table; when there are many rows, the first and last ones with a count between."""
    total = len(rows) if total is None else total
    shown: list[Sequence[t.Any] | None] = list(rows)
    if total > len(rows) or len(rows) > FULL_ROWS:
        shown = [*rows[:HEAD_ROWS], None, *rows[HEAD_ROWS:][-TAIL_ROWS:]]
    text_rows = [None if r is None else [cell(v) for v in r] for r in shown]
    widths = [len(c) for c in columns]
    for row in text_rows:
        for i, value in enumerate(row or ()):
            widths[i] = max(widths[i], len(value))
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |", line]
    for row in text_rows:
        if row is None:
            out.append("| " + " | ".join("…".center(w) for w in widths) + " |")
        else:
            out.append("| " + " | ".join(v.rjust(w) if _numeric(v) else v.ljust(w)
                                         for v, w in zip(row, widths)) + " |")
    out.append(line)
    shown_count = sum(1 for r in text_rows if r is not None)
    hidden = f", {shown_count} shown" if shown_count < total else ""
    out.append(f"({total} row{'s' if total != 1 else ''}{hidden})")
    return "\n".join(out)


def window(rows: Iterable[Sequence[t.Any]]) -> tuple[list[Sequence[t.Any]], int]:
    """The rows to print and the total, reading ``rows`` once without holding them all:
    everything up to FULL_ROWS, else the first HEAD_ROWS and the last TAIL_ROWS."""
    head: list[Sequence[t.Any]] = []
    tail: deque[Sequence[t.Any]] = deque(maxlen=TAIL_ROWS)
    total = 0
    for row in rows:
        if len(head) < FULL_ROWS:
            head.append(row)
        else:
            tail.append(row)
        total += 1
    if total <= FULL_ROWS:
        return head, total
    last = (head + list(tail))[-TAIL_ROWS:]  # contiguous: rows leave only the deque's front
    return head[:HEAD_ROWS] + last, total


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def error(err: BaseException) -> str:
    if isinstance(err, Error):
        caret = err.caret()
        name = type(err).__name__
        return f"{name}: {err}" + (f"\n{caret}" if caret else "")
    return f"{type(err).__name__}: {err}"


def accuracy_footer(cursor: t.Any) -> str | None:
    """The line under a lossy plan's result: its estimated accuracy and how it was made."""
    tuning = cursor.tuning
    if tuning is None or not tuning.lossy:
        return None
    estimate = cursor.estimated_accuracy
    accuracy = "not profiled" if estimate is None else f"{estimate:.3f}"
    how = tuning.controller.summary() if tuning.controller is not None and \
        tuning.controller.decisions else tuning.chosen.config.describe()
    filled = cursor.stats.rows_filled if cursor.stats is not None else 0
    return (f"Estimated accuracy: {accuracy} ({tuning.shape.replace('_', '-')} metric; lossy "
            f"plan: {how}; {filled} rows filled from the nearest processed frame)")


def progress_line(progress: t.Any, width: int = 24) -> str:
    """``[#######.........] 1234/12546 frames (10%), 410 frames/s, about 27 s left``."""
    done = round(progress.fraction * width)
    return f"[{'#' * done}{'.' * (width - done)}] {progress.describe()}"
