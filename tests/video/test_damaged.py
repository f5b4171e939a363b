"""Damaged videos at LOAD: a file cut short lists frames whose data is gone, so it is refused
with the reason instead of being loaded for every query to fail (issue 12, item 6)."""

from __future__ import annotations

import warnings
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
        con: vql.Connection, road_video: Path, damaged_road_video: Path) -> None:
    """5 % of the road video's bytes overwritten at its middle: decord fails any batch that
    touches the damage (before, every pixel query over the table failed). Now the frames that
    cannot be decoded are skipped, named in a warning and counted in SHOW TABLES; the rest of
    the video answers, with and without the result cache and sampling."""
    damaged = damaged_road_video
    con.execute("LOAD VIDEO ? INTO d", [str(damaged)])
    with pytest.warns(vql.DamagedVideoWarning, match=r"could not be decoded .* frames \d+-\d+"):
        rows = con.execute("SELECT frame_id, brightness FROM d").fetchall()
    lost = 377 - len(rows)
    assert 0 < lost < 377 // 2  # one damaged stretch (up to the next keyframe), not the video
    assert con.execute("SHOW TABLES").fetchall() == [
        ("d", "video", 1, 377, lost, None, None, None, None)]
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


def test_damage_is_skipped_where_it_was_met_and_before_counting(
        con: vql.Connection, damaged_road_video: Path, tmp_path: Path) -> None:
    """A LIMIT counts only frames that decode (it counted the skipped ones: 170 rows for
    LIMIT 200); a pipeline that decodes nothing keeps every row (another pipeline's damage
    dropped its rows, depending on which ran first); targets, ANALYZE and RENDER work too."""
    con.execute("LOAD VIDEO ? INTO d", [str(damaged_road_video)])
    with pytest.warns(vql.DamagedVideoWarning):
        assert len(con.execute("SELECT frame_id, brightness FROM d LIMIT 200").fetchall()) \
            == 200
    with pytest.warns(vql.DamagedVideoWarning):
        decoded = con.execute("SELECT count(*) FROM d WHERE brightness > 0").fetchall()[0][0]
    for sql in ("SELECT count(*) FROM (SELECT frame_id FROM d UNION ALL "
                "SELECT frame_id FROM d WHERE brightness > 0)",
                "SELECT count(*) FROM (SELECT frame_id FROM d WHERE brightness > 0 UNION ALL "
                "SELECT frame_id FROM d)"):
        with pytest.warns(vql.DamagedVideoWarning):
            assert con.execute(sql).fetchall() == [(377 + decoded,)]
    with warnings.catch_warnings():  # whether its frames meet the damage depends on the plan
        warnings.simplefilter("ignore", vql.DamagedVideoWarning)
        con.execute("SELECT avg(brightness) FROM d WITH ACCURACY 0.5 BEST EFFORT").fetchall()
        con.execute("ANALYZE d")
    target = tmp_path / "around.mp4"
    with pytest.warns(vql.DamagedVideoWarning):
        con.execute(f"RENDER '{target}' AS SELECT path, frame_id, brightness FROM d "
                    "WHERE frame_id BETWEEN 150 AND 260")
    assert target.stat().st_size > 0
