"""Live sources (vql/video/live.py): the shared videos served on the loopback interface in
real time (the ``serve`` fixture), read as a camera would be."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from vql.errors import VideoError
from vql.video.live import LiveSource, is_live, probe_stream
from vql.video.serve import free_port


def test_urls_of_streams_are_live_and_paths_are_not() -> None:
    for url in ("rtsp://cam.local/stream1", "udp://127.0.0.1:5000", "tcp://127.0.0.1:9000",
                "https://example.com/live/index.m3u8", "srt://10.0.0.2:9000", "/dev/video0",
                "RTMP://server/app/key"):
        assert is_live(url), url
    for path in ("videos/a.mp4", "/data/cam1/*.mp4", "C:/videos/b.mp4", "file.mkv"):
        assert not is_live(path), path


def test_probing_a_stream_measures_its_rate_and_size(serve, road_video: Path) -> None:
    sender = serve(road_video)
    info = probe_stream(sender.url, timeout_s=15)
    assert (info.fps, info.width, info.height, info.codec) == (12.5, 768, 432, "h264")


def test_a_stream_that_never_connects_is_one_clear_error() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(VideoError, match="could not connect to the stream within 1 s"):
        probe_stream(url, timeout_s=1.0)
    source = LiveSource(url, connect_timeout_s=1.0).start()
    with pytest.raises(VideoError, match="could not connect"):
        while time.monotonic() - started < 10:
            source.take(1, 0.2)
    assert time.monotonic() - started < 6
    assert [e.event for e in source.events()] == ["failed"]


def test_frames_come_in_real_time_as_the_files_frames(serve, road_video: Path) -> None:
    import decord

    sender = serve(road_video, loop=False)
    source = LiveSource(sender.url, connect_timeout_s=15).start()
    frames = []
    try:
        while len(frames) < 25:
            frames += source.take(25 - len(frames), 1.0)
    finally:
        source.close()
    assert [f.frame_id for f in frames] == list(range(25))
    assert [f.ts for f in frames] == pytest.approx([i / 12.5 for i in range(25)], abs=1e-3)
    # real time: 24 frame intervals of 80 ms (the first ones arrive together: the reader's
    # probe of the stream holds them back)
    assert frames[-1].arrived - frames[0].arrived > 0.8
    reference = decord.VideoReader(str(road_video)).get_batch([0, 12, 24]).asnumpy()
    for got, want in zip([frames[0], frames[12], frames[24]], reference):
        assert np.array_equal(got.pixels, want)  # copied packets, the same decoder


def test_a_full_queue_drops_the_oldest_frames_and_counts_them(serve, road_video: Path) -> None:
    sender = serve(road_video)
    source = LiveSource(sender.url, queue_frames=4, connect_timeout_s=15).start()
    try:
        deadline = time.monotonic() + 20
        while source.stats.frames_in < 20 and time.monotonic() < deadline:
            time.sleep(0.1)  # a consumer that does not keep up
        held = source.take(100, 0.0)
    finally:
        source.close()
    assert source.stats.frames_in >= 20
    assert len(held) == 4
    assert source.stats.frames_dropped == source.stats.frames_in - 4 - 0
    ids = [f.frame_id for f in held]
    assert ids == list(range(ids[0], ids[0] + 4)) and ids[0] >= 16  # the newest kept


def test_a_dropped_stream_is_reconnected_and_its_times_run_on(serve, road_video: Path) -> None:
    sender = serve(road_video)
    source = LiveSource(sender.url, connect_timeout_s=15, read_timeout_s=2.0).start()
    frames = []
    try:
        while len(frames) < 10:
            frames += source.take(10, 1.0)
        sender.kill()
        time.sleep(1.0)
        sender.start()
        deadline = time.monotonic() + 30
        while source.stats.reconnects == 0 or len(frames) < 20:
            assert time.monotonic() < deadline, "no frames after the sender came back"
            frames += source.take(10, 0.5)
    finally:
        source.close()
    ids = [f.frame_id for f in frames]
    assert ids == sorted(set(ids))  # nothing twice, in order
    times = [f.ts for f in frames]
    assert times == sorted(times)
    events = source.events()
    kinds = [e.event for e in events]
    assert kinds[0] == "connected" and "disconnected" in kinds and "reconnected" in kinds
    gap = next(e for e in events if e.event == "reconnected").gap_s
    assert gap >= 1.0
    # the first frame after the gap is the gap after the last one before it
    after = next(i for i, f in enumerate(frames) if f.arrived - frames[i - 1].arrived > 0.9)
    assert frames[after].ts - frames[after - 1].ts == pytest.approx(gap, abs=0.05)
