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
