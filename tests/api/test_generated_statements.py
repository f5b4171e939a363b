"""Generated statements (issue 12: generated-input tests). Sessions of statements drawn from
VQL's grammar (tests/api/grammar.py) run on small synthetic clips, with and without
autocommit: valid scripts, mutated or cut ones, and ones full of ``?`` markers bound to
parameters of every type. After every statement only ``vql.Error`` may have escaped, the
connection must answer ``SELECT 1`` (after ``rollback()`` at most) and the catalog must hold
no name twice.

A fixed number of examples, derandomized, with no example database: the same statements on
every run, in well under a minute. Shrinking is off so that a failure is reported at once; the
message names the statement, its parameters and the session before it (``bench/fuzz.py``
runs a longer campaign and minimizes what it finds).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

# No example database (database=None below), and Hypothesis's other caches outside the checkout.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="vql-hypothesis-"))

sys.path.insert(0, str(Path(__file__).parent))  # tests are no package (--import-mode=importlib)
import grammar as g  # noqa: E402

EXAMPLES = 12  # sessions per mode and autocommit setting: 72 sessions of 1-5 calls

CI_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                       phases=[Phase.explicit, Phase.generate], print_blob=False,
                       suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> g.World:
    return g.make_world(tmp_path_factory.mktemp("generated"))


def failure_report(autocommit: bool, before: list[g.Step], step: g.Step,
                   outcome: g.Outcome) -> str:
    lines = [f"autocommit={autocommit}; after {len(before)} earlier statement(s):"]
    lines += [f"    {s}" for s in before]
    lines += [f"this statement: {step}", *outcome.failures]
    for _, error in outcome.escapes:
        lines += traceback.format_exception(error)
    return "\n".join(lines)


def run_session(world: g.World, session: list[g.Step], autocommit: bool) -> None:
    world.reset_scratch()
    with contextlib.chdir(world.scratch):
        con = g.connect(world, autocommit)
        try:
            for index, step in enumerate(session):
                outcome = g.run_step(con, step, world)
                assert not outcome.failures, failure_report(autocommit, session[:index], step,
                                                            outcome)
        finally:
            escapes = [] if con.closed else g.close(con, autocommit)
        assert not escapes, f"autocommit={autocommit}, after {session}: " + "; ".join(
            f"{where}: {g.describe(error)}" for where, error in escapes)


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transactions"])
@pytest.mark.parametrize("mode", g.MODES)
def test_generated_statements(world: g.World, mode: str, autocommit: bool) -> None:
    @CI_SETTINGS
    @given(session=g.sessions(world, mode, max_steps=5))
    def check(session: list[g.Step]) -> None:
        run_session(world, session, autocommit)

    check()


def test_unsafe_statements_are_refused_before_they_run(world: g.World) -> None:
    """The guard that keeps generated statements inside the world's folder."""
    outside = "RENDER '/tmp/elsewhere.png' AS SELECT 1"
    assert g.unsafe(outside, [], world)
    assert g.unsafe("CREATE FUNCTION f FROM ?", ["/etc/passwd.py"], world)
    assert g.unsafe("LOAD VIDEO '/**/*.mp4' INTO x", [], world)
    inside = f"RENDER '{world.scratch}/t.png' AS SELECT ts, brightness FROM clip"
    assert g.unsafe(inside, [], world) is None
    assert g.unsafe("LOAD VIDEO ? INTO x", [world.tables["clip"]], world) is None
    assert g.unsafe("RENDER 'cut short", [], world) is None  # does not parse: runs nothing
