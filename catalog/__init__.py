"""The DuckDB catalog (installed as ``vql.catalog``): schema and access."""

from vql.catalog.schema import METADATA_COLUMNS, VIDEO_COLUMNS
from vql.catalog.store import AccuracyProfile, Catalog, Profile, StoredFunction, VideoRow

__all__ = ["AccuracyProfile", "Catalog", "Profile", "StoredFunction", "VideoRow", "VIDEO_COLUMNS",
           "METADATA_COLUMNS"]
