"""Damaged videos at LOAD: a file cut short lists frames whose data is gone, so it is refused
with the reason instead of being loaded for every query to fail (issue 12, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vql


@pytest.mark.parametrize("share", [0.1, 0.9])
def test_a_file_cut_short_is_refused_at_load(con: vql.Connection, road_video: Path,
                                             tmp_path: Path, share: float) -> None:
    data = road_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:int(len(data) * share)])
    with pytest.raises(vql.VideoError, match="damaged or cut short: its last frame"):
        con.execute("LOAD VIDEO ? INTO cut", [str(cut)])
    assert con.execute("SHOW TABLES").fetchall() == []
    con.execute("LOAD VIDEO ? INTO whole", [str(road_video)])  # the intact file still loads
    assert con.execute("SELECT count(*) FROM whole").fetchall() == [(377,)]
