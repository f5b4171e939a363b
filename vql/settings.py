"""Settings read from the environment, in one frozen object.

| variable           | meaning                                                              | default            |
|--------------------|----------------------------------------------------------------------|--------------------|
| VQL_MODEL_PATH     | directories searched for model weights, separated by ``os.pathsep``  | ~/.cache/vql/models|
| VQL_SHARED         | a shared data folder; its ``models/*`` folders join the model path   | unset              |
| VQL_BATCH_SIZE     | frames per batch in the video pipeline                               | 16                 |
| VQL_THREADS        | threads for decoding and inference (0: one per core)                 | 0                  |
| VQL_HISTORY        | the shell's history file                                             | ~/.vql_history     |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_model_path() -> tuple[Path, ...]:
    paths = [Path(p).expanduser() for p in os.environ.get("VQL_MODEL_PATH", "").split(os.pathsep) if p]
    if not paths:
        paths = [Path("~/.cache/vql/models").expanduser()]
    shared = os.environ.get("VQL_SHARED")
    if shared:
        models = Path(shared).expanduser() / "models"
        if models.is_dir():
            paths.extend(sorted(p for p in models.iterdir() if p.is_dir()))
    return tuple(paths)


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


@dataclass(frozen=True, slots=True)
class Settings:
    """Engine settings; ``Settings.from_env()`` reads them from the environment."""

    model_path: tuple[Path, ...] = field(default_factory=_default_model_path)
    batch_size: int = 16
    threads: int = 0
    history_file: Path = Path("~/.vql_history").expanduser()

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_path=_default_model_path(),
            batch_size=max(1, _int_env("VQL_BATCH_SIZE", 16)),
            threads=max(0, _int_env("VQL_THREADS", 0)),
            history_file=Path(os.environ.get("VQL_HISTORY", "~/.vql_history")).expanduser(),
        )

    def effective_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)

    def find_model(self, filename: str) -> Path | None:
        """The first file called ``filename`` on the model path (or the path itself if it exists)."""
        direct = Path(filename).expanduser()
        if direct.is_absolute() or direct.parent != Path("."):
            return direct if direct.is_file() else None
        for folder in self.model_path:
            candidate = folder / filename
            if candidate.is_file():
                return candidate
        return None
