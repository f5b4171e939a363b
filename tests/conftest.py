"""Shared fixtures. Tests use the real videos and the real detector from the shared folder
($VQL_SHARED, default ../shared beside the checkout). Where it is missing a test that needs it
fails under CI (CI=true) and is skipped with the reason elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

import vql
from vql.video.serve import free_port

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VQL_SHARED") or REPO.parent / "shared").resolve()

# Hermetic model path: the shared models only, never a user's ~/.cache.
os.environ["VQL_SHARED"] = str(SHARED)
os.environ["VQL_MODEL_PATH"] = tempfile.mkdtemp(prefix="vql-models-")
os.environ.setdefault("VQL_HISTORY", os.path.join(tempfile.mkdtemp(prefix="vql-hist-"), "h"))


def require_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} not found: the shared data folder is missing (set VQL_SHARED)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def videos() -> Path:
    return require_shared("data", "videos")


@pytest.fixture(scope="session")
def room_video(videos: Path) -> Path:
    return videos / "one-by-one-person-detection.mp4"


@pytest.fixture(scope="session")
def road_video(videos: Path) -> Path:
    return videos / "car-detection.mp4"


@pytest.fixture(scope="session")
def bottle_video(videos: Path) -> Path:
    return videos / "bottle-detection.mp4"


@pytest.fixture
def damaged_road_video(road_video: Path, tmp_path: Path) -> Path:
    """The road video with 5 % of its bytes overwritten at its middle (frames 170-239 lost)."""
    data = bytearray(road_video.read_bytes())
    middle, span = len(data) // 2, len(data) // 20
    data[middle:middle + span] = bytes((i * 97 + 13) % 256 for i in range(span))
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    return damaged


@pytest.fixture(scope="session")
def fastestdet_dir() -> Path:
    return require_shared("models", "fastestdet")


@pytest.fixture
def con() -> Iterator[vql.Connection]:
    connection = vql.connect(":memory:", autocommit=True)
    yield connection
    if not connection.closed:
        connection.close()


@pytest.fixture
def room(con: vql.Connection, room_video: Path) -> vql.Connection:
    con.execute("LOAD VIDEO ? INTO room", [str(room_video)])
    return con


@pytest.fixture
def road(con: vql.Connection, road_video: Path) -> vql.Connection:
    con.execute("LOAD VIDEO ? INTO intersection", [str(road_video)])
    return con


class Sender:
    """A shared video served as a live stream on the loopback interface, in real time, by
    ``python -m vql.video.serve`` in a process of its own (killed and restarted by tests of
    reconnection, stopped with SIGSTOP by tests of a stalled stream)."""

    def __init__(self, video: Path, protocol: str = "tcp", loop: bool = True):
        self.video, self.loop = video, loop
        self.url = f"{protocol}://127.0.0.1:{free_port()}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, start_s: float = 0.0) -> Sender:
        """Start sending (from ``start_s`` seconds into the video)."""
        args = [sys.executable, "-m", "vql.video.serve", str(self.video), self.url,
                "--start", str(start_s)] + (["--loop"] if self.loop else [])
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        return self

    def kill(self) -> None:
        """Stop the sender at once, as a camera that loses power."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGCONT)  # a stopped process cannot die
                self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def serve() -> Iterator[t.Callable[..., Sender]]:
    """``serve(video, start_s=0)``: a started ``Sender`` of that video (from ``start_s``
    seconds in); every one is killed at the end."""
    senders: list[Sender] = []

    def start(video: Path, start_s: float = 0.0, **options: t.Any) -> Sender:
        sender = Sender(video, **options).start(start_s)
        senders.append(sender)
        return sender

    yield start
    for sender in senders:
        sender.kill()


def interactive(folder: Path) -> pexpect.spawn:
    """The interactive shell in a pseudo-terminal of 40 x 120, working in ``folder``."""
    env = dict(os.environ, VQL_HISTORY=str(folder / "history"), TERM="dumb")
    return pexpect.spawn(sys.executable, ["-m", "vql.cli"], env=env, encoding="utf-8",
                         timeout=60, dimensions=(40, 120), cwd=str(folder))


def cut_segments(video: Path, folder: Path, count: int) -> list[Path]:
    """The first ``count`` GOPs of ``video`` as MP4 segments of their own, packets copied (a
    recorder's files: each starts at a keyframe and at time 0)."""
    import av

    folder.mkdir(parents=True, exist_ok=True)
    source = av.open(str(video))
    stream = source.streams.video[0]
    paths: list[Path] = []
    output, out_stream, shift = None, None, 0
    for packet in source.demux(stream):
        if packet.dts is None:
            continue
        if packet.is_keyframe:
            if output is not None:
                output.close()
            if len(paths) == count:
                break
            paths.append(folder / f"segment_{len(paths):03d}.mp4")
            output = av.open(str(paths[-1]), "w")
            out_stream = output.add_stream_from_template(stream)
            shift = packet.dts
        packet.dts -= shift
        packet.pts -= shift
        packet.stream = out_stream
        assert output is not None
        output.mux(packet)
    else:
        if output is not None:
            output.close()
    source.close()
    return paths


def record(segments: list[Path], folder: Path, pause_s: float = 1.0) -> threading.Thread:
    """A recorder writing ``segments`` into ``folder`` one after another in a thread: each in
    two parts ``pause_s`` apart (an MP4 without its end does not open yet), then a pause."""

    def write() -> None:
        for segment in segments:
            data = segment.read_bytes()
            target = folder / segment.name
            with open(target, "wb") as handle:
                handle.write(data[:len(data) // 2])
                handle.flush()
                time.sleep(pause_s)
                handle.write(data[len(data) // 2:])
            time.sleep(pause_s)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread
