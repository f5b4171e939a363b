"""Writes that belong to no user transaction: measured costs and accuracies, cached function
values and the query history.

They go through a second DuckDB connection to the same database (``cursor()``), each as a
transaction of its own committed at once, so that

* two connections querying the same table at once do not fail each other's statements: both
  write the same profile or cache rows, and DuckDB's optimistic concurrency control would
  abort one of the user transactions ("Conflict on update!") at its next statement;
* a measurement or cached value survives the user's ROLLBACK (it is a fact about the video,
  not part of what the user changed), and the next query of a long transaction sees it.

A write that conflicts with another connection's is retried a few times, then given up: every
one of these writes is made again by a later query. Reads of the same tables go through the
same connection (they see what was committed, not the user's open transaction).
"""

from __future__ import annotations

import contextlib
import time
import typing as t

import duckdb

TRIES = 4
BACKOFF_S = 0.02

T = t.TypeVar("T")


def is_conflict(error: BaseException) -> bool:
    """A write-write conflict between transactions (retrying may succeed)."""
    return isinstance(error, duckdb.TransactionException) or "Conflict" in str(error)


def commit_apart(con: duckdb.DuckDBPyConnection, work: t.Callable[[], T],
                 tries: int = TRIES, raise_error: bool = False) -> tuple[bool, T | None]:
    """Run ``work`` (writes through ``con``) in a transaction of its own and commit it.
    Returns (committed, what ``work`` returned). A conflict is retried up to ``tries`` times;
    any DuckDB error (a conflict that persists, a read-only database) gives up, rolled back,
    or is raised with ``raise_error`` (a statement the user asked for)."""
    for attempt in range(tries):
        try:
            con.execute("BEGIN TRANSACTION")
            value = work()
            con.execute("COMMIT")
            return True, value
        except BaseException as error:
            with contextlib.suppress(duckdb.Error):  # no transaction left to roll back
                con.execute("ROLLBACK")
            if not isinstance(error, duckdb.Error):  # Ctrl-C, a bug: nothing is left open
                raise
            if raise_error and (not is_conflict(error) or attempt == tries - 1):
                raise
            if not is_conflict(error):
                return False, None
            time.sleep(BACKOFF_S * (attempt + 1))
    return False, None
