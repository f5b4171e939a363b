"""Shared fixtures. Tests use the real videos and the real detector from the shared folder
($VQL_SHARED, default ../shared beside the checkout). Where it is missing a test that needs it
fails under CI (CI=true) and is skipped with the reason elsewhere."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import vql

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
