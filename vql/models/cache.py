"""A process-wide cache of loaded models: each is loaded once, on first use, under a lock."""

from __future__ import annotations

import threading
import typing as t
from collections.abc import Callable, Hashable

T = t.TypeVar("T")


class ModelCache:
    """Loaded models by key, each loaded once per process even when threads ask at once."""

    def __init__(self) -> None:
        self._models: dict[Hashable, t.Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self.loads = 0  # how many times a loader ran (tests check models load once)

    def get(self, key: Hashable, loader: Callable[[], T]) -> T:
        """The model under ``key``; the first call loads it with ``loader`` (once, under a
        lock of its own)."""
        if key in self._models:
            return t.cast(T, self._models[key])
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one loader per key; others wait for it instead of loading twice
            if key not in self._models:
                self._models[key] = loader()
                self.loads += 1
        return t.cast(T, self._models[key])


MODELS = ModelCache()
