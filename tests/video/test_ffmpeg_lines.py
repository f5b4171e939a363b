"""The lines decord's C++ code and its FFmpeg print on file descriptor 2 themselves ("[mov,mp4,...
@ 0x..] moov atom not found", "video_reader.cc:83: ERROR opening: ...") never reach the
terminal: what they say about a bad file is in the VideoError, and decoding frames damaged in
the middle of a file prints nothing but VQL's warning. Other lines written meanwhile (Python's)
still arrive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import vql
from vql.video.probe import native_log, probe

RAW = ("video_reader.cc", " @ 0x", "[mov,mp4")  # in decord's and FFmpeg's own lines only


def _vql(sql: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vql.cli", "-c", sql], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def _raw_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(raw in line for raw in RAW)]


def test_a_text_file_named_mp4_is_one_error_in_ffmpegs_words(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video\n")
    done = _vql("LOAD VIDEO 'notes.mp4' INTO notes", tmp_path)
    assert done.returncode == 1
    assert _raw_lines(done.stderr) == [], done.stderr
    assert done.stderr.strip().splitlines() == [
        f"VideoError: cannot read video {str(tmp_path / 'notes.mp4')!r}: not a decodable video "
        "(FFmpeg: moov atom not found; Invalid data found when processing input)"]


def test_a_file_cut_short_says_what_ffmpeg_found(tmp_path: Path, road_video: Path) -> None:
    (tmp_path / "cut.mp4").write_bytes(road_video.read_bytes()[:100_000])
    done = _vql("LOAD VIDEO 'cut.mp4' INTO cut", tmp_path)
    assert done.returncode == 1
    assert _raw_lines(done.stderr) == [], done.stderr
    assert "damaged or cut short" in done.stderr
    assert done.stderr.rstrip().endswith("partial file)"), done.stderr


def test_frames_damaged_in_the_middle_print_only_the_warning(tmp_path: Path,
                                                             road_video: Path) -> None:
    """Decoding them made FFmpeg print dozens of "[h264 @ 0x..] Invalid NAL unit size" lines,
    also from decord's read-ahead threads after a batch returned."""
    data = bytearray(road_video.read_bytes())
    middle, span = len(data) // 2, len(data) // 20
    data[middle:middle + span] = bytes((i * 97 + 13) % 256 for i in range(span))
    (tmp_path / "damaged.mp4").write_bytes(bytes(data))
    done = _vql("LOAD VIDEO 'damaged.mp4' INTO d; "
                "SELECT count(*) FROM d WHERE frame_id BETWEEN 160 AND 180 AND brightness > 0",
                tmp_path)
    assert done.returncode == 0, done.stderr
    assert _raw_lines(done.stderr) == [], done.stderr[:2000]
    # frame 169, just before the damage, failed too in one run of many (decord's threads)
    assert "could not be decoded" in done.stderr and re.search(r"frames 1(69|70)-180",
                                                              done.stderr), done.stderr


def test_other_lines_written_during_a_window_still_arrive(capfd: pytest.CaptureFixture[str]
                                                          ) -> None:
    before = os.fstat(2).st_ino
    with native_log() as said:
        os.write(2, b"[h264 @ 0x55d0c0ffee00] Invalid NAL unit size (-5 > 1740).\n")
        os.write(2, b"a line from Python, written meanwhile\n")
        os.write(2, b"[14:07:33] /src/video/video_reader.cc:83: ERROR opening: /a/b.mp4, "
                    b"Invalid data found when processing input\n")
        assert said.words() == (" (FFmpeg: Invalid NAL unit size (-5 > 1740).; Invalid data "
                                "found when processing input)")
    assert os.fstat(2).st_ino == before  # fd 2 is the terminal (here: pytest's file) again
    assert capfd.readouterr().err == "a line from Python, written meanwhile\n"


def test_probes_in_threads_each_get_their_own_words(tmp_path: Path, road_video: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    """fd 2 is the process's: windows are one at a time, so each error names its own file's
    trouble, good files probe meanwhile, and fd 2 is restored."""
    (tmp_path / "notes.mp4").write_text("not a video\n")
    (tmp_path / "cut.mp4").write_bytes(road_video.read_bytes()[:100_000])
    before = os.fstat(2).st_ino
    results: dict[str, list[str]] = {"notes.mp4": [], "cut.mp4": [], "road": []}

    def work(name: str) -> None:
        for _ in range(5):
            try:
                found = probe(str(road_video if name == "road" else tmp_path / name))
                results[name].append(f"{found.frames} frames")
            except Exception as error:  # anything but a VideoError fails the test below
                results[name].append(error.reason if isinstance(error, vql.VideoError)
                                     else repr(error))

    threads = [threading.Thread(target=work, args=(name,)) for name in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results["road"] == ["377 frames"] * 5
    assert len(results["notes.mp4"]) == len(results["cut.mp4"]) == 5
    assert all(r.endswith("(FFmpeg: moov atom not found; Invalid data found when processing "
                          "input)") for r in results["notes.mp4"]), results["notes.mp4"]
    assert all("moov" not in r and r.endswith("partial file)") for r in results["cut.mp4"]), \
        results["cut.mp4"]
    assert os.fstat(2).st_ino == before
    assert _raw_lines(capfd.readouterr().err) == []
