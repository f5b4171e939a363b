"""Fuzzing: generated VQL statements against the contract of issue 12.

    python bench/fuzz.py [--statements 5000] [--seed 0] [--minutes M] [--heavy] [--no-minimize]

Runs sessions of generated statements (the grammar of ``tests/api/grammar.py``: valid scripts,
mutated or cut ones, and ones with ``?`` markers bound to parameters of every type) on two
small synthetic clips, with and without autocommit, until ``--statements`` execute() calls
(each a script of one to three statements) have run, ``--minutes`` have passed, or Ctrl-C.
``--heavy`` adds ANALYZE and YOLO model names (seconds each). The contract, checked after every
call: only ``vql.Error`` escapes, the connection answers ``SELECT 1`` (after ``rollback()`` at
most), the catalog holds no name twice; commit() and close() at the end raise nothing else.

Prints three tables: the statements by outcome (ok, skipped as unsafe, each ``vql.Error`` class,
non-VQL escape); the figures (statements, contract violations, and what is worth a look though
allowed: VQL bugs caught as ``InternalError``, connections that needed a rollback, user
functions the connection and the catalog disagree on); and every distinct finding (by kind,
exception type and where it was raised) with a minimal reproducer, found by replaying it on a
fresh connection with fewer earlier statements and fewer tokens. Needs no shared data; with
``$VQL_SHARED`` (default ../shared) the detector runs too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("VQL_SHARED", str(REPO.parent / "shared"))
# Hermetic model path, as in the tests: the shared models only, never a user's ~/.cache.
os.environ["VQL_MODEL_PATH"] = tempfile.mkdtemp(prefix="vql-fuzz-models-")
# Hypothesis keeps no example database here (database=None) and its caches outside the checkout.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="vql-hypothesis-"))
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

import vql  # noqa: E402
from tests.api import grammar as g  # noqa: E402
from vql.shell.format import table  # noqa: E402
from vql.sql.parse import split_statements  # noqa: E402

Signature = tuple[str, ...]
# VQL errors that are allowed but say that VQL misused DuckDB (its own state, not the user's
# statement): reported as findings worth a look.
SUSPICIOUS = ("No open result set", "TransactionContext Error", "INTERNAL Error",
              "Connection already closed", "invalidated")
MINIMIZE_REPLAYS = 80   # replays per finding at most
MINIMIZE_FINDINGS = 20  # findings minimized at most (the rest keep their first statement)


@dataclass
class Finding:
    """A distinct contract violation (or VQL bug caught as InternalError), first seen after
    ``before`` on a connection with ``autocommit``."""

    kind: str
    what: str
    autocommit: bool
    before: list[g.Step]
    step: g.Step
    count: int = 1
    minimized: bool = False


@dataclass
class Stats:
    outcomes: Counter[str] = field(default_factory=Counter)
    statements: int = 0   # execute() calls, each a script of one to three statements
    parts: int = 0        # the statements in them (as VQL splits them)
    ok_by_mode: Counter[str] = field(default_factory=Counter)
    calls_by_mode: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    escapes: int = 0      # non-VQL exceptions from statements, SELECT 1, commit() or close()
    rolled_back: int = 0
    findings: dict[Signature, Finding] = field(default_factory=dict)
    slowest: list[tuple[float, g.Step]] = field(default_factory=list)


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def signatures(outcome: g.Outcome, drift: str | None) -> dict[Signature, tuple[str, str]]:
    """What is worth reporting in one step's outcome: signature -> (kind, description)."""
    found: dict[Signature, tuple[str, str]] = {}
    for where, error in outcome.escapes:
        found[("escape", type(error).__name__, _where(error))] = (
            "non-VQL escape", f"{where}: {g.describe(error)}")
    if outcome.kind == "InternalError" and outcome.error is not None:
        cause = outcome.error.__cause__ or outcome.error
        found[("internal", type(cause).__name__, _where(cause))] = (
            "InternalError (a VQL bug, caught)", g.describe(cause))
    if outcome.error is not None and outcome.kind != "escape" and any(
            pattern in str(outcome.error) for pattern in SUSPICIOUS):
        message = str(outcome.error).split(" (line ")[0]
        found[("suspicious", outcome.kind, message[:60])] = (
            "suspicious VQL error (internal state)", f"{outcome.kind}: {message[:200]}")
    if outcome.unusable:
        found[("unusable", outcome.unusable.split(":")[0])] = (
            "connection unusable", outcome.unusable[:200])
    for duplicate in outcome.duplicates:
        found[("duplicate", duplicate.split(":")[0])] = ("duplicate name", duplicate)
    if drift:
        found[("drift", drift.split(":")[0])] = ("registry/catalog drift", drift)
    return found


def check(con: vql.Connection, step: g.Step, world: g.World) -> tuple[g.Outcome, str | None]:
    outcome = g.run_step(con, step, world)
    drift = None
    if outcome.unusable is None and outcome.kind != "skipped":
        with contextlib.suppress(Exception):
            drift = g.registry_drift(con)
    return outcome, drift


def replay(world: g.World, autocommit: bool, steps: list[g.Step], wanted: Signature) -> bool:
    """Whether ``steps`` on a fresh connection show ``wanted`` at their last step."""
    world.reset_scratch()
    with contextlib.chdir(world.scratch):
        con = g.connect(world, autocommit)
        try:
            for step in steps[:-1]:
                check(con, step, world)
            outcome, drift = check(con, steps[-1], world)
            if wanted[0] == "escape" and wanted[1:] and not outcome.escapes:
                escapes = g.close(con, autocommit)  # a finding in commit or close
                outcome.escapes += escapes
            return wanted in signatures(outcome, drift)
        finally:
            if not con.closed:
                g.close(con, autocommit)


def minimize(world: g.World, finding: Finding, wanted: Signature) -> Finding:
    """Fewer earlier statements, then fewer tokens in the statement, while it reproduces."""
    budget = [MINIMIZE_REPLAYS]

    def still(steps: list[g.Step]) -> bool:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        return replay(world, finding.autocommit, steps, wanted)

    if not still([*finding.before, finding.step]):
        return finding  # does not reproduce on a fresh connection: keep it as seen
    before = list(finding.before)
    if before and still([finding.step]):
        before = []
    index = 0
    while index < len(before):
        shorter = before[:index] + before[index + 1:]
        if still([*shorter, finding.step]):
            before = shorter
        else:
            index += 1
    step = finding.step
    if step.fetch != "all" and still([*before, replace(step, fetch="all")]):
        step = replace(step, fetch="all")
    tokens: list[str] = g.TOKEN.findall(step.sql)
    size = max(len(tokens) // 2, 1)
    while size >= 1 and budget[0] > 0:
        start, removed = 0, False
        while start < len(tokens) and budget[0] > 0:
            fewer: list[str] = tokens[:start] + tokens[start + size:]
            if fewer and still([*before, replace(step, sql="".join(fewer))]):
                tokens, removed = fewer, True
            else:
                start += size
        if not removed:
            size //= 2
    step = replace(step, sql="".join(tokens))
    return replace(finding, before=before, step=step, minimized=True)


def statement_count(sql: str) -> int:
    try:
        return len(split_statements(sql))
    except Exception:  # noqa: BLE001 - text that cannot be tokenized counts as one
        return 1


def run_session(world: g.World, mode: str, session: list[g.Step], autocommit: bool,
                stats: Stats, limit: int) -> None:
    world.reset_scratch()
    stats.sessions += 1
    with contextlib.chdir(world.scratch):
        con = g.connect(world, autocommit)
        done: list[g.Step] = []
        for step in session:
            if stats.statements >= limit:
                break
            outcome, drift = check(con, step, world)
            stats.outcomes[outcome.kind if outcome.kind != "escape" else
                           f"escape: {type(outcome.error).__name__}"] += 1
            if outcome.kind != "skipped":
                stats.statements += 1
                stats.parts += statement_count(step.sql)
                stats.calls_by_mode[mode] += 1
                stats.ok_by_mode[mode] += outcome.kind == "ok"
                stats.slowest = sorted([*stats.slowest, (outcome.seconds, step)],
                                       key=lambda pair: -pair[0])[:5]
            stats.rolled_back += outcome.rolled_back
            stats.escapes += len(outcome.escapes)
            for signature, (kind, what) in signatures(outcome, drift).items():
                if signature in stats.findings:
                    stats.findings[signature].count += 1
                else:
                    stats.findings[signature] = Finding(kind, what, autocommit, list(done), step)
            done.append(step)
            if outcome.unusable:
                break  # nothing more to learn from this connection
        for where, error in g.close(con, autocommit):
            stats.escapes += 1
            signature = ("escape", type(error).__name__, _where(error))
            if signature in stats.findings:
                stats.findings[signature].count += 1
            else:
                stats.findings[signature] = Finding(
                    "non-VQL escape", f"{where}: {g.describe(error)}", autocommit, done[:-1],
                    done[-1] if done else g.Step("SELECT 1", None))


def campaign(world: g.World, statements: int, base_seed: int, minutes: float | None,
             heavy: bool, max_steps: int) -> tuple[Stats, float]:
    stats = Stats()
    started = time.perf_counter()
    deadline = started + minutes * 60 if minutes else float("inf")
    chunk = 0
    try:
        while stats.statements < statements and time.perf_counter() < deadline:
            for mode in g.MODES:
                for autocommit in (True, False):
                    run_chunk(world, mode, autocommit, base_seed * 100_003 + chunk, stats,
                              statements, heavy, max_steps, deadline)
            chunk += 1
            print(f"  {stats.statements} statements, {len(stats.findings)} findings, "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: the figures so far", file=sys.stderr)
    return stats, time.perf_counter() - started


def run_chunk(world: g.World, mode: str, autocommit: bool, chunk_seed: int, stats: Stats,
              limit: int, heavy: bool, max_steps: int, deadline: float) -> None:
    """Eight sessions of one mode, drawn by hypothesis from ``chunk_seed``."""
    @settings(max_examples=8, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(chunk_seed)
    @given(session=g.sessions(world, mode, min_steps=2, max_steps=max_steps, heavy=heavy))
    def sessions(session: list[g.Step]) -> None:
        if stats.statements < limit and time.perf_counter() < deadline:
            run_session(world, mode, session, autocommit, stats, limit)

    sessions()


def report(stats: Stats, seconds: float) -> None:
    total = sum(stats.outcomes.values()) or 1
    print(table(["outcome", "statements", "share"],
                [(kind, n, f"{100 * n / total:.1f} %") for kind, n in
                 stats.outcomes.most_common()]))
    by_kind = Counter(f.kind for f in stats.findings.values())
    counts: Counter[str] = Counter()
    for finding in stats.findings.values():
        counts[finding.kind] += finding.count
    print(table(["figure", "value"], [
        ("execute() calls (scripts of 1-3 statements)", stats.statements),
        ("statements in them", stats.parts),
        *[(f"calls ok, {mode} scripts", f"{stats.ok_by_mode[mode]} of {n}")
          for mode, n in stats.calls_by_mode.items()],
        ("sessions (connections)", stats.sessions),
        ("skipped as unsafe (outside the scratch folder)", stats.outcomes["skipped"]),
        ("seconds", f"{seconds:.0f}"),
        ("calls per second", f"{stats.statements / max(seconds, 1e-9):.1f}"),
        ("non-VQL exceptions escaping (statements, commit, close)", stats.escapes),
        ("non-VQL escapes, distinct", by_kind["non-VQL escape"]),
        ("connections left unusable", counts["connection unusable"]),
        ("duplicate-name violations", counts["duplicate name"]),
        ("InternalError (VQL bugs caught), distinct", by_kind["InternalError (a VQL bug, caught)"]),
        ("statements after which SELECT 1 needed rollback()", stats.rolled_back),
        ("registry/catalog drift (statements)", counts["registry/catalog drift"]),
        ("slowest statement, s", f"{stats.slowest[0][0]:.2f}" if stats.slowest else "-"),
    ]))
    if stats.slowest:
        print(f"slowest: {stats.slowest[0][1]}")
    findings = sorted(stats.findings.items(), key=lambda item: (item[1].kind, -item[1].count))
    print(table(["#", "kind", "signature", "times", "autocommit"],
                [(i, f.kind, " ".join(sig[1:]), f.count, f.autocommit)
                 for i, (sig, f) in enumerate(findings, 1)]))
    for i, (_, finding) in enumerate(findings, 1):
        state = "minimized" if finding.minimized else "as first seen"
        print(f"\n{i}. {finding.kind}: {finding.what}")
        print(f"   reproducer ({state}; autocommit={finding.autocommit}), "
              "on a connection holding the clips as clip and tiny:")
        for step in finding.before:
            print(f"     before: {step}")
        print(f"     {finding.step}")
        if finding.what.startswith(("commit", "close")):
            print("     then: con.commit() (without autocommit) and con.close()")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--max-steps", type=int, default=8, help="calls per connection")
    parser.add_argument("--heavy", action="store_true", help="ANALYZE and YOLO names too")
    parser.add_argument("--no-minimize", dest="minimize", action="store_false")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the statements' own warnings (targets, fallbacks)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    with tempfile.TemporaryDirectory(prefix="vql-fuzz-") as folder:
        world = g.make_world(Path(folder))
        stats, seconds = campaign(world, args.statements, args.seed, args.minutes, args.heavy,
                                  args.max_steps)
        if args.minimize:
            for number, (signature, finding) in enumerate(list(stats.findings.items())):
                if number < MINIMIZE_FINDINGS:
                    stats.findings[signature] = minimize(world, finding, signature)
        report(stats, seconds)
        print(f"\nseed {args.seed}; {sys.platform}, {os.cpu_count()} cores; "
              f"VQL_SHARED={os.environ['VQL_SHARED']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
