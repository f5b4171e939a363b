"""Text rendering of results, errors and warnings for the shell."""

from __future__ import annotations

import typing as t
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vql.errors import Error

MAX_WIDTH = 90
FULL_ROWS = 40  # results up to this many rows print whole
HEAD_ROWS = 20  # longer ones print their first and last rows
TAIL_ROWS = 10


def cell(value: t.Any) -> str:
    """A value as a table cell: NULL, a BLOB's size, a float to 6 digits, text cut with "…"."""
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


@dataclass(frozen=True)
class Frame:
    """The characters of a table's rules: ASCII (sqlite's ``.mode table``) or box drawing
    (``.mode box``)."""

    top: tuple[str, str, str, str]      # left, fill, join, right
    middle: tuple[str, str, str, str]
    bottom: tuple[str, str, str, str]
    bar: str


ASCII = Frame(("+", "-", "+", "+"), ("+", "-", "+", "+"), ("+", "-", "+", "+"), "|")
BOX = Frame(("┌", "─", "┬", "┐"), ("├", "─", "┼", "┤"), ("└", "─", "┴", "┘"), "│")
GAP = "…"  # stands for hidden rows, and for hidden columns in the header


def table(columns: Sequence[str], rows: Sequence[Sequence[t.Any]], total: int | None = None,
          max_width: int | None = None, frame: Frame = ASCII) -> str:
    """A framed table; when there are many rows, the first and last ones with a count between;
    when it is wider than ``max_width`` characters, the middle columns are hidden (as DuckDB's
    shell does) and the count says how many are shown."""
    total = len(rows) if total is None else total
    shown: list[Sequence[t.Any] | None] = list(rows)
    if total > len(rows) or len(rows) > FULL_ROWS:
        shown = [*rows[:HEAD_ROWS], None, *rows[HEAD_ROWS:][-TAIL_ROWS:]]
    text_rows = [None if r is None else [cell(v) for v in r] for r in shown]
    widths = [len(c) for c in columns]
    for row in text_rows:
        for i, value in enumerate(row or ()):
            widths[i] = max(widths[i], len(value))
    widths = _shrunk(widths, [len(c) for c in columns], max_width)
    text_rows = [None if r is None else [_cut(v, w) for v, w in zip(r, widths)]
                 for r in text_rows]
    keep = _columns_that_fit(widths, max_width)
    names = _pick(list(columns), keep)
    kept_widths = _pick(widths, keep, 1)
    numeric = _pick([all(_numeric(r[i]) or r[i] == "NULL" for r in text_rows if r is not None)
                     for i in range(len(columns))], keep, False)

    def rule(chars: tuple[str, str, str, str]) -> str:
        left, fill, join, right = chars
        return left + join.join(fill * (w + 2) for w in kept_widths) + right

    def line(values: Sequence[str], align: Sequence[bool]) -> str:
        bar = frame.bar
        cells = [v.rjust(w) if right else v.ljust(w)
                 for v, w, right in zip(values, kept_widths, align)]
        return f"{bar} " + f" {bar} ".join(cells) + f" {bar}"

    out = [rule(frame.top), line(names, [False] * len(names)), rule(frame.middle)]
    for row in text_rows:
        if row is None:
            out.append(line([GAP.center(w) for w in kept_widths], [False] * len(kept_widths)))
        else:
            out.append(line(_pick(row, keep, GAP), numeric))
    out.append(rule(frame.bottom))
    shown_count = sum(1 for r in text_rows if r is not None)
    hidden = f", {shown_count} shown" if shown_count < total else ""
    footer = f"({total} row{'s' if total != 1 else ''}{hidden}"
    if keep is not None:
        footer += f"; {len(columns)} columns, {sum(keep)} shown: widen the terminal or use " \
                  ".mode line to see all"
    out.append(footer + ")")
    return "\n".join(out)


MIN_CUT = 16  # a long value is cut to no fewer characters than this to fit the terminal


def _shrunk(widths: list[int], headers: list[int], max_width: int | None) -> list[int]:
    """The columns' widths after cutting the widest values, down to ``MIN_CUT`` characters
    (or the column's name), until the table fits ``max_width``: a long list shows its start
    rather than hiding the columns beside it (DuckDB's shell cuts them likewise)."""
    widths = list(widths)
    if max_width is None:
        return widths
    excess = 1 + sum(w + 3 for w in widths) - max_width
    while excess > 0:
        floors = [max(MIN_CUT, h) for h in headers]
        cuttable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: widths[i])
        others = max((widths[i] for i in cuttable if i != widest), default=floors[widest])
        cut = min(excess, widths[widest] - max(others, floors[widest]) or 1)
        widths[widest] -= cut
        excess -= cut
    return widths


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _columns_that_fit(widths: Sequence[int], max_width: int | None) -> list[bool] | None:
    """Which columns to show so the table fits ``max_width`` (None: all fit): the first and
    last ones, alternately, as many as fit beside a one-character ``…`` column."""
    def width_of(ws: Iterable[int]) -> int:
        return 1 + sum(w + 3 for w in ws)

    if max_width is None or width_of(widths) <= max_width or len(widths) < 2:
        return None
    keep = [False] * len(widths)
    used = width_of([len(GAP)])
    left, right = 0, len(widths) - 1
    take_left = True
    while left <= right:
        index = left if take_left else right
        if used + widths[index] + 3 > max_width and any(keep):
            break
        keep[index] = True
        used += widths[index] + 3
        if take_left:
            left += 1
        else:
            right -= 1
        take_left = not take_left
    return keep if not all(keep) else None


def _pick(values: Sequence[t.Any], keep: list[bool] | None, gap: t.Any = GAP) -> list[t.Any]:
    """``values`` of the kept columns, with ``gap`` where hidden ones were."""
    if keep is None:
        return list(values)
    out: list[t.Any] = []
    for value, kept in zip(values, keep):
        if kept:
            out.append(value)
        elif not out or out[-1] is not _HIDDEN:
            out.append(_HIDDEN)
    return [gap if v is _HIDDEN else v for v in out]


_HIDDEN = object()


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
    """An error as the shell prints it: its class and message, then a VQL error's caret line."""
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
    filled = cursor.stats.rows_filled if cursor.stats is not None else 0
    if tuning.live is not None:  # a live table: its controller says what it did
        return (f"Estimated accuracy: {accuracy} (per-frame metric on clips of the stream; "
                f"adapting plan: {tuning.live.summary()})")
    how = tuning.controller.summary() if tuning.controller is not None and \
        tuning.controller.decisions else tuning.chosen.config.describe()
    return (f"Estimated accuracy: {accuracy} ({tuning.shape.replace('_', '-')} metric; lossy "
            f"plan: {how}; {filled} rows filled from the nearest processed frame)")


def progress_line(progress: t.Any, width: int = 24) -> str:
    """``[#######.........] 1234/12546 frames (10%), 410 frames/s, about 27 s left``."""
    done = round(progress.fraction * width)
    return f"[{'#' * done}{'.' * (width - done)}] {progress.describe()}"
