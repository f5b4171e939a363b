"""WATCH tables (vql/video/watch.py, WatchScanOp): a folder a recorder writes segments into,
read as an archive and followed as a live source at once."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import vql
from tests.conftest import cut_segments, record


@pytest.fixture
def segments(road_video: Path, tmp_path: Path) -> list[Path]:
    """The road video's first three GOPs (60 frames, 4.8 s each) as a recorder's segments."""
    return cut_segments(road_video, tmp_path / "cut", 3)


def test_a_watch_table_reads_the_archive_then_each_segment_as_it_is_finished(
        con: vql.Connection, segments: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    shutil.copy(segments[0], folder / segments[0].name)
    created = con.execute(f"CREATE VIDEO TABLE rec FROM '{folder}/*.mp4' WATCH").fetchone()
    assert created[1:] == (1, 1, 60)  # the archive so far
    recorder = record(segments[1:], folder)
    cursor = con.execute("SELECT path, frame_id, ts FROM rec WHERE frame_id IN (0, 59)")
    rows, arrivals = [], []
    while len(rows) < 6:
        rows.append(cursor.fetchone())
        arrivals.append(time.monotonic())
    cursor.close()
    recorder.join(10)
    names = [Path(r[0]).name for r in rows]
    assert names == [s.name for s in segments for _ in (0, 59)]  # in time order, each once
    assert [r[1] for r in rows] == [0, 59] * 3
    assert arrivals[-1] - arrivals[0] > 2.0  # the later segments came as they were written
    assert con.execute("SELECT videos, frames FROM (SHOW TABLES) WHERE name = 'rec'"
                       ).fetchone() == (3, 180)  # they joined the table
    with pytest.warns(vql.FallbackWarning, match="reads the 3 segments finished so far"):
        counted = con.execute("SELECT count(*) FROM rec").fetchone()  # needs every row
    assert counted == (180,)


def test_windows_over_a_watch_table_close_with_each_segment(
        con: vql.Connection, segments: list[Path], tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    con.execute(f"CREATE VIDEO TABLE rec FROM '{folder}/*.mp4' WATCH")  # empty: none yet
    recorder = record(segments[:2], folder, pause_s=0.5)
    # ORDER BY applies within each emission: one may close the first segment's last window
    # and the second's first (when the query runs behind), the paths keep them in order
    cursor = con.execute("SELECT path, floor(ts / 2) AS span, count(*) AS frames FROM rec "
                         "GROUP BY ALL ORDER BY path, span LIMIT 3")
    rows = cursor.fetchall()
    recorder.join(10)
    # the first segment's 4.8 s: windows of 25, 25 and 10 frames, the last one closed by the
    # second segment
    assert [(Path(p).name, s, n) for p, s, n in rows] == [
        (segments[0].name, 0.0, 25), (segments[0].name, 1.0, 25), (segments[0].name, 2.0, 10)]
