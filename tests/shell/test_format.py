"""Result rendering in the shell."""

from __future__ import annotations

import pytest

from vql.shell import format as fmt


@pytest.mark.parametrize(("total", "shown"), [
    (0, []), (31, list(range(31))), (40, list(range(40))),
    (45, [*range(20), *range(35, 45)]), (1000, [*range(20), *range(990, 1000)]),
])
def test_window_keeps_first_and_last_rows(total: int, shown: list[int]) -> None:
    rows, count = fmt.window((i,) for i in range(total))
    assert count == total and [r[0] for r in rows] == shown


def test_table_marks_hidden_rows_and_renders_values() -> None:
    rows, total = fmt.window((i, b"\xff\xd8\xff" + b"x" * 2000, None) for i in range(50))
    text = fmt.table(["n", "frame", "note"], rows, total)
    assert "(50 rows, 30 shown)" in text and "<JPEG 2.0 KB>" in text and "NULL" in text
    assert text.count("…") == 3  # one elision mark per column


def test_a_long_value_is_cut_before_any_column_is_hidden() -> None:
    # A track's path (a list of hundreds of points) beside its id and times: every column
    # shows, the path cut to what fits, as DuckDB's shell cuts long values.
    path = "[" + ", ".join(f"{{'ts': {i / 10}, 'x': 387.0, 'y': 432.0}}" for i in range(40)) + "]"
    text = fmt.table(["track_id", "first_ts", "last_ts", "path"], [[1, 4.56, 8.24, path]],
                     max_width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split() == ["|", "track_id", "|", "first_ts", "|", "last_ts", "|", "path",
                                "|"]
    assert "[{'ts': 0.0, 'x': 387.0" in lines[3] and lines[3].rstrip(" |").endswith("…")
    assert lines[-1] == "(1 row)"


def test_values_are_cut_no_shorter_than_16_characters_then_columns_hide() -> None:
    rows = [["x" * 40] * 8]
    text = fmt.table([f"c{i}" for i in range(8)], rows, max_width=80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "x" * 15 + "…" in lines[3] and "x" * 16 not in lines[3]  # cut to 16
    assert "8 columns, 3 shown" in lines[-1]
