"""Videos whose frames carry no usable timestamps, and decoders that never return: every
statement finishes or fails with one clear VideoError, in bounded time."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import vql


def zero_timestamp_video(path: Path, frames: int = 120) -> Path:
    """An H.264 MP4 whose packets all carry pts = dts = 0, as an encoder that never set them
    writes (made with PyAV; decord reads every frame at 0 s)."""
    av = pytest.importorskip("av", reason="PyAV makes the test video (the dev extra has it)")
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.options = {"g": "50"}

        def mux(packets: list[object]) -> None:
            for packet in packets:
                packet.pts = 0  # type: ignore[attr-defined]
                packet.dts = 0  # type: ignore[attr-defined]
                out.mux(packet)

        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 3 * i, axis=1), format="rgb24")
            mux(stream.encode(frame))
        mux(stream.encode())
    return path


def test_a_video_without_timestamps_is_refused_at_load(con: vql.Connection,
                                                        tmp_path: Path) -> None:
    path = zero_timestamp_video(tmp_path / "zero.mp4")
    started = time.perf_counter()
    with pytest.raises(vql.VideoError, match="no usable timestamps") as error:
        con.execute("LOAD VIDEO ? INTO z", [str(path)])
    assert "119 of 120 frames" in str(error.value) and "setpts" in str(error.value)
    assert time.perf_counter() - started < 30
    assert con.execute("SHOW TABLES").fetchall() == []  # nothing half-loaded
    assert con.execute("SELECT 42").fetchall() == [(42,)]


def test_a_stuck_decoder_is_an_error_within_the_timeout(
        road: vql.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    import decord

    def never_returns(self: object, indices: list[int]) -> object:
        time.sleep(30)  # a decoder stuck in C looks like this to Python
        raise AssertionError("unreachable within the test")

    monkeypatch.setenv("VQL_DECODE_TIMEOUT", "0.5")
    monkeypatch.setattr(decord.VideoReader, "get_batch", never_returns)
    started = time.perf_counter()
    with pytest.raises(vql.VideoError, match=r"did not finish within 0.5 s"):
        road.execute("SELECT avg(brightness) FROM intersection").fetchall()
    assert time.perf_counter() - started < 10
    monkeypatch.undo()
    assert road.execute("SELECT count(*) FROM intersection WHERE frame_id < 5").fetchall() \
        == [(5,)]
