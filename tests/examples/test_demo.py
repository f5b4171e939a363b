"""The demo runs for a user with the shared data and for one without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_demo_without_shared_data_makes_its_own_clip(tmp_path: Path) -> None:
    env = dict(os.environ, VQL_SHARED=str(tmp_path / "no-shared-here"))
    result = run_demo(env)
    assert result.returncode == 0, result.stderr
    assert "panning over ultralytics' bus.jpg" in result.stdout
    assert "| congested |" in result.stdout and "(60 rows, 30 shown)" in result.stdout


def test_demo_with_shared_data_uses_the_road_video(road_video: Path) -> None:
    env = dict(os.environ, VQL_SHARED=str(road_video.parents[2]))
    result = run_demo(env)
    assert result.returncode == 0, result.stderr
    assert "car-detection.mp4 from the shared data" in result.stdout
    assert "(377 rows, 30 shown)" in result.stdout
