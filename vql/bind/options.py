"""QueryOptions: VQL's clauses after a query, lifted out of the syntax tree into one typed object
before any SQL rewrite runs (sqlglot's own rules know nothing of them)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from vql.errors import BindError
from vql.sql.dialect import LATENCY_UNITS, VideoQuery


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """VQL's clauses after a query: SAMPLE rate, LATENCY, ACCURACY and COST targets, BEST
    EFFORT (checked when made)."""

    sample_fps: float | None = None   # SAMPLE n FPS: frames per second of video (by timestamp)
    latency_s: float | None = None    # WITH LATENCY: wall-clock target, seconds
    accuracy: float | None = None     # WITH ACCURACY: 0..1 against the reference plan
    cost_usd: float | None = None     # WITH COST: dollars
    best_effort: bool = False         # BEST EFFORT: run even when no plan meets the targets

    def __post_init__(self) -> None:
        if self.sample_fps is not None and not 0 < self.sample_fps < float("inf"):
            raise BindError(f"SAMPLE needs a positive rate, not {self.sample_fps:g} FPS")
        if self.latency_s is not None and self.latency_s <= 0:
            raise BindError("LATENCY must be positive")
        if self.accuracy is not None and not 0 <= self.accuracy <= 1:
            raise BindError(f"ACCURACY must be between 0 and 1, not {self.accuracy:g}")
        if self.cost_usd is not None and self.cost_usd < 0:
            raise BindError("COST must not be negative")

    @property
    def has_targets(self) -> bool:
        """Whether a LATENCY, ACCURACY or COST target was given."""
        return any(v is not None for v in (self.latency_s, self.accuracy, self.cost_usd))

    def describe(self) -> list[str]:
        """The options as EXPLAIN shows them, one clause a line (none when none was given)."""
        lines = []
        if self.sample_fps is not None:
            lines.append(f"SAMPLE {self.sample_fps:g} FPS (by presentation time)")
        if self.latency_s is not None:
            lines.append(f"LATENCY {self.latency_s:g} s")
        if self.accuracy is not None:
            lines.append(f"ACCURACY {self.accuracy:g}")
        if self.cost_usd is not None:
            lines.append(f"COST {self.cost_usd:g} USD")
        if self.best_effort:
            lines.append("BEST EFFORT")
        return lines

    def target_text(self) -> str:
        """The targets as one clause, e.g. ``LATENCY 2 s AND ACCURACY 0.9`` ("" for none)."""
        return " AND ".join(line for line in self.describe()
                            if not line.startswith(("SAMPLE", "BEST")))


def _number(node: exp.Expr | None) -> float | None:
    return None if node is None else float(node.name)


def lift(tree: exp.Expr) -> tuple[exp.Expr, QueryOptions]:
    """Split a statement into the plain query and its options."""
    if not isinstance(tree, VideoQuery):
        return tree, QueryOptions()
    latency = _number(tree.args.get("latency"))
    if latency is not None:
        latency *= LATENCY_UNITS[tree.args["unit"].name.lower()]
    options = QueryOptions(
        sample_fps=_number(tree.args.get("sample")), latency_s=latency,
        accuracy=_number(tree.args.get("accuracy")), cost_usd=_number(tree.args.get("cost")),
        best_effort=bool(tree.args.get("best_effort")))
    return tree.this, options
