"""Settings read from the environment, in one frozen object.

| variable           | meaning                                                              | default            |
|--------------------|----------------------------------------------------------------------|--------------------|
| VQL_MODEL_PATH     | directories searched for model weights, separated by ``os.pathsep``  | ~/.cache/vql/models|
| VQL_SHARED         | a shared data folder; its ``models/*`` folders join the model path   | unset              |
| VQL_BATCH_SIZE     | frames per batch in the video pipeline                               | 16                 |
| VQL_THREADS        | cores VQL may use (0: all of them)                                   | 0                  |
| VQL_DECODE_THREADS | decord's decoding threads (0: the cores, at most 4)                  | 0                  |
| VQL_INFERENCE_THREADS | onnxruntime/torch threads per model (0: the cores VQL may use)    | 0                  |
| VQL_HISTORY        | the shell's history file                                             | ~/.vql_history     |
| VQL_PRICE_CPU      | USD per CPU core-second (a plan's dollar cost, as Llama counts it)   | 0.000014           |
| VQL_PRICE_GPU      | USD per GPU-second                                                   | 0.00083            |
| VQL_PROFILE_SHARE  | share of a query's budget it may spend building missing profiles    | 0.1                |
| VQL_PROFILE_MAX_AGE| days after which an accuracy profile is measured again               | 7                  |
| VQL_PREFETCH       | batches decoded ahead in a background thread (0: decode in line)     | 2                  |
| VQL_CACHE_MB       | size limit of the result cache of function values (0: no cache)      | 1024               |
| VQL_DEVICE         | where functions compute: auto, cpu or cuda (vql/physical/placement)  | auto               |
| VQL_DECODE_TIMEOUT | seconds one decoding call may take before it is a VideoError         | 120                |
| VQL_MALLOC_TUNING  | 0 leaves glibc's malloc alone (vql/memory.py)                        | 1                  |
| VQL_CONNECT_TIMEOUT| seconds a live stream may take to connect before it is a VideoError | 10                 |
| VQL_LIVE_QUEUE     | frames held per live stream before the oldest is dropped            | 64                 |
| VQL_RUNNER         | where queries compute their frame functions: local, or ray (a Ray actor pool; vql/session/runners.py) | local |
| VQL_RAY_ADDRESS    | with ray: a cluster's address, or auto; empty starts a local Ray instance per query | empty |
| VQL_COALESCE       | 1: concurrent pipelines join their frames in one model call on CPU too (vql/models/coalesce.py); 0: never | on CUDA only |

Threads are set deliberately for the cores available: decord decodes with up to 4 threads
(frame threads stop paying off past that), and each model gets every core VQL may use, even
while decoding runs ahead in its own thread, because the model is nearly all of the work.
Measured on 2 cores, the room video's person query (FastestDet, 1394 frames, decoding ahead),
best of 3 runs: 2 inference threads 10.76 s, 1 thread (a core left to decoding) 11.04 s.

The default prices are about 5 US cents per core-hour and 3 dollars per GPU-hour, on-demand
cloud prices of 2026; set your own.
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


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


DEFAULT_DATABASE = ":memory:"


def default_database() -> str:
    """The database ``vql`` and ``vql run`` open when none is named: ``$VQL_DATABASE``, else
    an in-memory one, as the ``duckdb`` and ``sqlite3`` shells do (nothing is written where
    nobody asked; ``vql my.duckdb`` or the shell's ``.open FILE`` keeps the work)."""
    return os.environ.get("VQL_DATABASE") or DEFAULT_DATABASE


@dataclass(frozen=True, slots=True)
class Settings:
    """Engine settings; ``Settings.from_env()`` reads them from the environment."""

    model_path: tuple[Path, ...] = field(default_factory=_default_model_path)
    batch_size: int = 16
    threads: int = 0
    decode_threads: int = 0
    inference_threads: int = 0
    history_file: Path = Path("~/.vql_history").expanduser()
    price_cpu_core_s: float = 0.000014
    price_gpu_s: float = 0.00083
    profile_share: float = 0.1
    profile_max_age_days: float = 7.0
    cache_mb: float = 1024.0
    prefetch: int = 2
    device: str = "auto"
    connect_timeout_s: float = 10.0
    live_queue: int = 64
    coalesce: bool | None = None  # None: on CUDA only (on 2 CPU cores it measured slower)
    runner: str = "local"
    ray_address: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from the ``VQL_*`` environment variables (the table above)."""
        return cls(
            model_path=_default_model_path(),
            batch_size=max(1, _int_env("VQL_BATCH_SIZE", 16)),
            threads=max(0, _int_env("VQL_THREADS", 0)),
            decode_threads=max(0, _int_env("VQL_DECODE_THREADS", 0)),
            inference_threads=max(0, _int_env("VQL_INFERENCE_THREADS", 0)),
            history_file=Path(os.environ.get("VQL_HISTORY", "~/.vql_history")).expanduser(),
            price_cpu_core_s=_float_env("VQL_PRICE_CPU", 0.000014),
            price_gpu_s=_float_env("VQL_PRICE_GPU", 0.00083),
            profile_share=min(max(_float_env("VQL_PROFILE_SHARE", 0.1), 0.0), 1.0),
            profile_max_age_days=_float_env("VQL_PROFILE_MAX_AGE", 7.0),
            cache_mb=max(_float_env("VQL_CACHE_MB", 1024.0), 0.0),
            prefetch=max(_int_env("VQL_PREFETCH", 2), 0),
            device=os.environ.get("VQL_DEVICE", "auto").strip().lower() or "auto",
            connect_timeout_s=max(_float_env("VQL_CONNECT_TIMEOUT", 10.0), 0.1),
            live_queue=max(_int_env("VQL_LIVE_QUEUE", 64), 1),
            coalesce=None if not os.environ.get("VQL_COALESCE", "").strip()
            else _int_env("VQL_COALESCE", 1) != 0,
            runner=os.environ.get("VQL_RUNNER", "local").strip().lower() or "local",
            ray_address=os.environ.get("VQL_RAY_ADDRESS", "").strip(),
        )

    def effective_threads(self) -> int:
        """The cores VQL may use."""
        return self.threads or (os.cpu_count() or 1)

    def decode_thread_count(self) -> int:
        """decord's threads: it decodes with frame threads, which stop paying off past about 4."""
        return self.decode_threads or min(self.effective_threads(), 4)

    def inference_thread_count(self) -> int:
        """A model's intra-op threads: every core VQL may use, unless set."""
        return self.inference_threads or self.effective_threads()

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
