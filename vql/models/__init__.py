"""Models loaded once per process and shared by every query and connection."""

from vql.models.cache import MODELS, ModelCache

__all__ = ["MODELS", "ModelCache"]
