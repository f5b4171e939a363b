"""Where a query's frame functions compute: in this process (``local``), or ahead of it on a
cluster (``ray``), chosen by ``vql.connect(db, runner=...)``, ``SET runner = '...'`` or
``VQL_RUNNER``.

A runner other than ``local`` runs the query over each video of the table it reads, one video
per worker (as ``vql run`` does), and the values its frame functions computed there come back
into this database's result cache; the query then runs here as it always does, and reads
those values from the cache instead of decoding and computing them. Its answer is therefore
the one it has in this process, whatever it is (an aggregate over every video, an ORDER BY, a
join with a plain table), and a video a worker could not compute is computed here.

A runner registers itself in ``RUNNERS`` when its module is imported; ``PROVIDERS`` names the
module of each, imported when the runner is first asked for (Ray's is above this layer).
"""

from __future__ import annotations

import importlib
import typing as t

from vql import errors
from vql.exec.result import RunnerReport

if t.TYPE_CHECKING:
    from vql.bind import statements as st
    from vql.session.engine import Engine

LOCAL = "local"
PROVIDERS = {"ray": "vql.batch.ray_runner"}  # the module that registers each runner


class Runner(t.Protocol):
    """Computes a query's frame functions ahead of it, into the result cache."""

    def warm(self, engine: Engine, query: st.Query, sql: str) -> RunnerReport | str | None:
        """Run ``sql`` (the statement ``query`` was bound from) over the videos it reads; the
        report, why it did not (the query then computes here), or None when the statement
        has nothing for it to compute."""
        ...

    def explain(self, engine: Engine, query: st.Query) -> list[str]:
        """EXPLAIN's lines: where the query's frame functions would compute."""
        ...


RUNNERS: dict[str, Runner] = {}


def check_runner(name: str) -> str:
    """``name`` as a runner's name, lower case; a ProgrammingError naming the choices."""
    value = name.strip().lower()
    if value != LOCAL and value not in PROVIDERS:
        raise errors.ProgrammingError(
            f"unknown runner {name!r}: use {', '.join(repr(n) for n in (LOCAL, *PROVIDERS))}")
    return value


def runner(name: str) -> Runner | None:
    """The runner named ``name``; None for ``local``."""
    name = check_runner(name)
    if name == LOCAL:
        return None
    if name not in RUNNERS:
        importlib.import_module(PROVIDERS[name])  # registers it
    return RUNNERS[name]


def warm(engine: Engine, query: st.Query, sql: str) -> tuple[RunnerReport | None, str | None]:
    """Before ``query`` runs: its frame functions computed by the session's runner. The
    report, and what the user should hear: why the runner was not used, or which videos it
    could not compute (None when all went well, or the runner is local)."""
    chosen = runner(engine.runner)
    if chosen is None or query.returns_rows is False:
        return None, None
    found = chosen.warm(engine, query, sql)
    if found is None:
        return None, None
    if isinstance(found, str):
        return None, (f"runner={engine.runner!r} was not used: {found}; the query computes in "
                      "this process")
    if found.failed:
        path, why = found.failed[0]
        return found, (f"runner={engine.runner!r}: {len(found.failed)} video(s) could not be "
                       f"computed there ({path}: {why}); the query computes what they miss in "
                       "this process")
    return found, None
