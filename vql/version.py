"""VQL's version, kept with pyproject.toml's (a module of its own, so that the engine's modules
can read it without importing the ``vql`` package and its API)."""

__version__ = "0.1.0"
