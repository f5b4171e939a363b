"""The bad-file table (issue 12): what LOAD VIDEO and a pixel query do with each kind of bad
or borderline input. One row per file kind: its maker (tests/video/badfiles.py) and the
expected outcome. Every row also checks that nothing but a VQL error escapes and that the
connection still answers afterwards."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

import vql

sys.path.insert(0, str(Path(__file__).parent))  # tests are no package (--import-mode=importlib)
import badfiles as bf  # noqa: E402

Outcome = Literal["refused", "damaged", "loads"]


@dataclass(frozen=True)
class Row:
    """One bad file and what VQL should do with it.

    ``refused``: LOAD raises VideoError matching ``message`` and the catalog is unchanged.
    ``damaged``: LOAD raises VideoError, or it loads and a pixel query over the whole table
    succeeds (undecodable frames skipped); never loaded with every pixel query failing.
    ``loads``: LOAD succeeds with ``frames`` frames of ``size`` (width, height) as displayed,
    the first frame upright (bright block top-left), and the pixel queries answer."""

    kind: str
    make: bf.Maker
    outcome: Outcome
    message: str = ""
    frames: int = bf.FRAMES
    size: tuple[int, int] = (bf.WIDTH, bf.HEIGHT)
    check_times: bool = False   # compare ts with the times PyAV reads
    rotation: int = 0           # the display rotation the file must really carry


NOT_A_VIDEO = r"not a (decodable )?video"
CUT_SHORT = "damaged or cut short"

ROWS = [
    Row("zero-byte", bf.zero_bytes, "refused", r"empty"),
    Row("text named .mp4", bf.text_file, "refused", NOT_A_VIDEO),
    Row("audio only .mp4", bf.audio_only(".mp4"), "refused", r"no video stream"),
    Row("audio only .m4a", bf.audio_only(".m4a"), "refused", r"no video stream"),
    Row("cut at 10 %", bf.truncated(0.1), "refused", CUT_SHORT),
    Row("cut at 50 %", bf.truncated(0.5), "refused", CUT_SHORT),
    Row("cut at 90 %", bf.truncated(0.9), "refused", CUT_SHORT),
    Row("cut at 10 %, moov at end", bf.truncated(0.1, faststart=False), "refused", CUT_SHORT),
    Row("cut at 50 %, moov at end", bf.truncated(0.5, faststart=False), "refused", CUT_SHORT),
    Row("cut at 90 %, moov at end", bf.truncated(0.9, faststart=False), "refused", CUT_SHORT),
    Row("garbage in the middle", bf.garbage_middle, "damaged"),
    Row("garbage in mdat only", bf.garbage_in_mdat, "damaged"),
    Row("garbage in moov", bf.garbage_in_moov, "damaged"),
    Row("rotated 90", bf.rotated(90), "loads", rotation=90),
    Row("rotated 180", bf.rotated(180), "loads", rotation=180),
    Row("rotated 270", bf.rotated(270), "loads", rotation=270),
    Row("variable frame rate", bf.variable_frame_rate, "loads", check_times=True),
    Row("huge metadata header", bf.huge_metadata, "loads"),
    Row("huge free box before media", bf.huge_free_box, "loads"),
    Row("moov at end", bf.moov_at_end, "loads"),
    Row("faststart", bf.faststart, "loads"),
    Row("one frame", bf.one_frame, "loads", frames=1),
    Row("mkv", bf.container(".mkv", "libx264"), "loads"),
    Row("webm", bf.container(".webm", "libvpx-vp9"), "loads"),
    Row("avi", bf.container(".avi", "mpeg4"), "loads"),
    Row("mpeg-ts", bf.container(".ts", "libx264"), "loads"),
    Row("mov", bf.container(".mov", "libx264"), "loads"),
    Row("png named .mp4", bf.image(".png", "photo-png.mp4"), "refused", NOT_A_VIDEO),
    Row("jpeg named .mp4", bf.image(".jpg", "photo-jpg.mp4"), "refused", NOT_A_VIDEO),
    Row("png", bf.image(".png", "photo.png"), "refused", NOT_A_VIDEO),
    Row("jpeg", bf.image(".jpg", "photo.jpg"), "refused", NOT_A_VIDEO),
]


def run(con: vql.Connection, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Execute and fetch; an exception that is not a VQL error fails the test."""
    try:
        return con.execute(sql, list(params)).fetchall()
    except vql.Error:
        raise
    except Exception as error:  # what must never escape
        pytest.fail(f"{sql!r} raised a non-VQL {type(error).__module__}."
                    f"{type(error).__name__}: {error}")


def load(con: vql.Connection, path: Path) -> vql.VideoError | None:
    """LOAD the file into table t; the VideoError it raised, or None when it loaded."""
    try:
        run(con, "LOAD VIDEO ? INTO t", [str(path)])
    except vql.VideoError as error:
        return error
    return None


def decoded_first_frame(con: vql.Connection) -> np.ndarray:
    import cv2

    ((blob,),) = run(con, "SELECT frame FROM t LIMIT 1")  # JPEG-encoded when selected
    image = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the frame column is not a decodable JPEG"
    return np.asarray(image)


def pyav_times(path: Path) -> list[float]:
    av = pytest.importorskip("av")
    with av.open(str(path)) as container:
        return [float(frame.pts * frame.time_base) for frame in container.decode(video=0)]


@pytest.mark.parametrize("row", ROWS, ids=[row.kind for row in ROWS])
def test_bad_file(row: Row, con: vql.Connection, tmp_path: Path) -> None:
    path = row.make(tmp_path)
    if row.rotation:  # the maker really stored the turn (PyAV drops a plain 'rotate' tag)
        assert bf.display_rotation(path) == row.rotation
    error = load(con, path)

    if row.outcome == "refused":
        assert error is not None, f"{row.kind} was loaded, expected a VideoError"
        assert re.search(row.message, str(error)), \
            f"{row.kind}: the message does not match {row.message!r}: {error}"
        assert run(con, "SHOW TABLES") == []  # nothing half-loaded

    elif row.outcome == "damaged":
        if error is None:  # loaded: then the whole table must answer a pixel query
            try:
                ((count, brightness),) = run(con, "SELECT count(*), avg(brightness(frame)) FROM t")
            except vql.Error as query_error:
                pytest.fail(f"{row.kind} was loaded but a pixel query over it fails: "
                            f"{query_error}")
            assert count > 0 and brightness is not None

    else:
        assert error is None, f"{row.kind} was refused: {error}"
        width, height = row.size
        assert run(con, "SELECT frames, width, height FROM vql_catalog.videos") \
            == [(row.frames, width, height)]
        assert run(con, "SELECT width, height FROM t LIMIT 1") == [(width, height)]
        ((count, brightness),) = run(con, "SELECT count(*), avg(brightness(frame)) FROM t")
        assert count == row.frames
        assert 0.15 < brightness < 0.25  # noise around 40/255 and a white block (5 %)
        image = decoded_first_frame(con)
        assert image.shape == (height, width, 3)
        rows, cols = bf.BLOCK
        corners = {"top-left": image[:rows, :cols], "top-right": image[:rows, -cols:],
                   "bottom-left": image[-rows:, :cols], "bottom-right": image[-rows:, -cols:]}
        means = {name: float(corner.mean()) for name, corner in corners.items()}
        others = [mean for name, mean in means.items() if name != "top-left"]
        assert means["top-left"] > 200 and max(others) < 120, \
            f"the frame is not upright: corner brightness {means}"
        if row.check_times:
            times = [ts for (ts,) in run(con, "SELECT ts FROM t ORDER BY frame_id")]
            np.testing.assert_allclose(times, pyav_times(path), atol=1e-4)
            assert len(set(np.round(np.diff(times), 3))) > 3  # really irregular

    assert run(con, "SELECT 1") == [(1,)]

