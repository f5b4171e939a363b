"""The README works as written (issue 13): it fits on a page, its quickstart and its Python
example print what it shows, and its UDF is examples/redness.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def blocks(language: str, after: str) -> list[str]:
    """The ``language`` code blocks of the README section whose heading is ``after``."""
    section = README.split(f"\n## {after}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def layout(tmp_path: Path, shared: Path) -> Path:
    """A working folder with ``../shared`` and ``.venv`` where the README expects them."""
    work = tmp_path / "repo"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared, target_is_directory=True)
    venv = Path(sys.prefix)
    if not (venv / "bin" / "activate").is_file():
        reason = f"the tests do not run in a virtual environment ({venv}), as make test's"
        if os.environ.get("CI") == "true":  # CI runs make test, in .venv
            pytest.fail(reason)
        pytest.skip(reason)
    (work / ".venv").symlink_to(venv, target_is_directory=True)
    return work


def test_the_readme_fits_on_a_page() -> None:
    assert len(README.encode()) <= 8 * 1024


def test_the_first_code_block_is_the_two_commands() -> None:
    first = re.search(r"```(\w*)\n(.*?)```", README, flags=re.S)
    assert first is not None
    commands = [line.split("#")[0].strip() for line in first.group(2).splitlines()]
    assert commands == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_the_quickstart_prints_what_the_readme_shows(tmp_path: Path, videos: Path) -> None:
    script, = blocks("sh", "Quickstart")
    shown, = blocks("text", "Quickstart")
    work = layout(tmp_path, videos.parents[1])
    env = {k: v for k, v in os.environ.items() if k not in {"VQL_SHARED", "VQL_DATABASE"}}
    result = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
    assert "Warning: vehicle_count counts moving objects" in result.stderr


def test_the_python_example_prints_what_the_readme_shows(tmp_path: Path, videos: Path,
                                                         fastestdet_dir: Path) -> None:
    code, udf = blocks("python", "Python")
    shown, = blocks("text", "Python")
    work = layout(tmp_path, videos.parents[1])
    env = dict(os.environ, VQL_SHARED="../shared")
    env.pop("VQL_MODEL_PATH", None)
    runs = [subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                           capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert runs[0].returncode == 0, runs[0].stderr
    assert runs[0].stdout == shown
    # as the README says, the second run reads the detections from the result cache
    assert runs[1].stdout.splitlines() == [
        shown.splitlines()[0],
        "1394 frames scanned, 0 decoded, 140 from the result cache, 36 rows filtered in the "
        "pipeline"]
    assert udf == (REPO / "examples" / "redness.py").read_text()
