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


def test_frames_damaged_in_the_middle_are_skipped_and_reported(
        con: vql.Connection, road_video: Path, tmp_path: Path) -> None:
    """5 % of the road video's bytes overwritten at its middle: decord fails any batch that
    touches the damage (before, every pixel query over the table failed). Now the frames that
    cannot be decoded are skipped, named in a warning and counted in SHOW TABLES; the rest of
    the video answers, with and without the result cache and sampling."""
    data = bytearray(road_video.read_bytes())
    middle, span = len(data) // 2, len(data) // 20
    data[middle:middle + span] = bytes((i * 97 + 13) % 256 for i in range(span))
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    con.execute("LOAD VIDEO ? INTO d", [str(damaged)])
    with pytest.warns(vql.DamagedVideoWarning, match=r"could not be decoded .* frames \d+-\d+"):
        rows = con.execute("SELECT frame_id, brightness FROM d").fetchall()
    lost = 377 - len(rows)
    assert 0 < lost < 377 // 2  # one damaged stretch (up to the next keyframe), not the video
    assert con.execute("SHOW TABLES").fetchall() == [("d", "video", 1, 377, lost)]
    # the values of the frames that decode are the intact file's
    con.execute("LOAD VIDEO ? INTO whole", [str(road_video)])
    intact = dict(con.execute("SELECT frame_id, brightness FROM whole").fetchall())
    assert all(abs(value - intact[frame]) < 0.02 for frame, value in rows[:150])
    # cached values hold only decoded frames; a sampled and a stateful query answer too
    with pytest.warns(vql.DamagedVideoWarning):
        again = con.execute("SELECT count(*) FROM d WHERE brightness > 0").fetchall()
    assert again == [(len(rows),)]
    with pytest.warns(vql.DamagedVideoWarning):
        assert con.execute("SELECT count(*) FROM d WHERE moving_objects(frame) >= 0 "
                           "SAMPLE 5 FPS").fetchall()[0][0] > 0
