"""What planning, running and tuning a query need from an open database, and nothing more.

``vql.session.engine.Engine`` owns the connection, the transaction and the statement loop; the
layers below it (``vql.physical``, ``vql.tune``) receive this small frozen object instead, so
that they cannot reach back into the session (begin, commit, the history) and a later
executor (a live stream, a Ray worker) can hand them the same few services.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import duckdb

from vql.catalog import Catalog
from vql.catalog.results import ResultCache
from vql.functions.registry import FunctionRegistry
from vql.settings import Settings


@dataclass(frozen=True)
class Services:
    """An open database's services for the layers below the session."""

    duck: duckdb.DuckDBPyConnection   # the user's connection: pipelines are registered on it
    catalog: Catalog                  # tables and videos, inside the user's transaction
    measurements: Catalog             # measured costs and accuracies, written apart from it
    registry: FunctionRegistry        # the functions a call may name
    settings: Settings
    results: ResultCache              # cached function values
    atomic: Callable[[], AbstractContextManager[None]]  # several catalog writes as one
    # Exact runs of pipelines with stateful functions, recorded by a first query with a target
    # for the next query of the pipeline (vql/tune/observe.py); keyed by (table, pipeline,
    # content). The mapping is the engine's: the tuner adds and evicts entries.
    traces: dict[tuple[str, str, str], t.Any]
